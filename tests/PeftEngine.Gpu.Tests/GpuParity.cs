using PeftEngine.Gpu;

namespace PeftEngine.Tests;

/// <summary>
/// The device the GPU tests run on and the parity checks against the reference backend: the one
/// PEFTENGINE_GPU_TEST_DEVICE names ("cuda:0", "opencl:0", "ilgpucpu:0"); without it, the first CUDA device when
/// ILGPU finds one, else ILGPU's CPU accelerator. If the device cannot be opened the tests fail with the reason;
/// they never pass without running on it.
/// </summary>
public static class GpuParity
{
    private static readonly Lazy<GpuBackend> _backend = new(Open);

    /// <summary>The device under test.</summary>
    public static Device Device => Backend.Device;

    /// <summary>The backend under test, opened on first use.</summary>
    public static GpuBackend Backend => _backend.Value;

    private static GpuBackend Open()
    {
        var name = Environment.GetEnvironmentVariable("PEFTENGINE_GPU_TEST_DEVICE")
                   ?? (GpuBackend.ListDevices().Any(d => d.Device.Kind == DeviceKind.Cuda) ? "cuda:0" : "ilgpucpu:0");
        var parts = name.Split(':');
        var kind = parts[0].ToLowerInvariant() switch
        {
            "cuda" => DeviceKind.Cuda,
            "opencl" => DeviceKind.OpenCL,
            "ilgpucpu" => DeviceKind.IlgpuCpu,
            _ => throw new InvalidOperationException($"PEFTENGINE_GPU_TEST_DEVICE={name}: expected cuda:N, opencl:N or ilgpucpu:N"),
        };
        var device = new Device(kind, parts.Length > 1 ? int.Parse(parts[1]) : 0);
        try
        {
            return GpuBackend.Open(device);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"the GPU tests could not open {device} through ILGPU: {e.Message}", e);
        }
    }

    /// <summary>
    /// Runs <paramref name="run"/> on copies of <paramref name="inputs"/> (host tensors) on the reference backend
    /// and on the GPU, and compares every output tensor it returns. The lambda builds any views it needs itself.
    /// </summary>
    public static void Check(Tensor[] inputs, Func<Tensor[], Tensor[]> run, double atol = 1e-5, double rtol = 1e-5)
    {
        var refIn = inputs.Select(t => t.To(Device.CpuReference)).ToArray();
        var gpuIn = inputs.Select(t => t.To(Device)).ToArray();
        try
        {
            var expected = run(refIn);
            var actual = run(gpuIn);
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.Equal(Device, actual[i].Device);
                Assert.Equal(expected[i].Shape, actual[i].Shape);
                Assert.Equal(expected[i].DType, actual[i].DType);
                TestData.AssertClose(expected[i].ToDoubleArray(), actual[i].ToDoubleArray(), atol, rtol, $"output {i}");
            }
            foreach (var t in expected.Concat(actual)) t.Dispose();
        }
        finally
        {
            foreach (var t in refIn.Concat(gpuIn)) t.Dispose();
        }
    }

    /// <summary>Like <see cref="Check(Tensor[], Func{Tensor[], Tensor[]}, double, double)"/> for one output.</summary>
    public static void Check(Tensor[] inputs, Func<Tensor[], Tensor> run, double atol = 1e-5, double rtol = 1e-5) =>
        Check(inputs, t => new[] { run(t) }, atol, rtol);

    /// <summary>
    /// Forward and backward parity: on each device, makes the inputs leaves that require grad, computes
    /// sum(f(inputs) · w) for a fixed random w (so every output element gets its own gradient) and compares the output
    /// and every input's gradient.
    /// </summary>
    public static void CheckGradients(Tensor[] inputs, Func<Tensor[], Tensor> f, double atol = 1e-5, double rtol = 1e-5)
    {
        Check(inputs, xs =>
        {
            var leaves = xs.Select(x => x.Alias().RequireGrad()).ToArray();
            var y = f(leaves);
            using var w = TestData.Uniform(99, y.Shape, y.DType, device: y.Device);
            using (var prod = Ops.Mul(y, w))
            using (var loss = Ops.Sum(prod))
                loss.Backward();
            var outs = new List<Tensor> { y.Detach() };
            foreach (var l in leaves) outs.Add(l.Grad!.Alias());
            y.Dispose();
            foreach (var l in leaves) l.Dispose();
            return outs.ToArray();
        }, atol, rtol);
    }
}
