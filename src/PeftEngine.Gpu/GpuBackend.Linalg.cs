namespace PeftEngine.Gpu;

/// <summary>
/// Linear algebra (SVD, QR, eigh, Cholesky, LU) and the FFT on the GPU backend, by host fallback: the inputs are
/// copied to the host, the CPU backend's kernel runs there, and the results are copied back into the device
/// outputs. These run once per adapter at initialisation (PiSSA's and LoftQ's SVD, OFT's and BOFT's
/// factorizations, FourierFT's spectra), where the two copies cost little next to the decomposition itself.
/// </summary>
/// <remarks>Each call synchronises the stream (the copies to and from the host wait for it). PyTorch runs these on
/// the GPU through cuSOLVER / cuFFT; there is no such library here yet.</remarks>
public sealed partial class GpuBackend
{
    public void Svd(Tensor a, Tensor? u, Tensor s, Tensor? vh, bool computeUV) =>
        OnHost("Svd", [a], [u, s, vh], (cpu, i, o) => { cpu.Svd(i[0], o[0], o[1]!, o[2], computeUV); return 0; });

    public void Qr(Tensor a, Tensor q, Tensor r, bool complete) =>
        OnHost("Qr", [a], [q, r], (cpu, i, o) => { cpu.Qr(i[0], o[0]!, o[1]!, complete); return 0; });

    public void Eigh(Tensor a, Tensor w, Tensor v) =>
        OnHost("Eigh", [a], [w, v], (cpu, i, o) => { cpu.Eigh(i[0], o[0]!, o[1]!); return 0; });

    public FactorizationFailure? Cholesky(Tensor a, Tensor l) =>
        OnHost("Cholesky", [a], [l], (cpu, i, o) => cpu.Cholesky(i[0], o[0]!));

    public FactorizationFailure? LuFactor(Tensor a, Tensor lu, Tensor pivots) =>
        OnHost("LuFactor", [a], [lu, pivots], (cpu, i, o) => cpu.LuFactor(i[0], o[0]!, o[1]!));

    public void LuSolve(Tensor lu, Tensor pivots, Tensor b, Tensor x) =>
        OnHost("LuSolve", [lu, pivots, b], [x], (cpu, i, o) => { cpu.LuSolve(i[0], i[1], i[2], o[0]!); return 0; });

    public void Fft(Tensor x, Tensor y, bool inverse, double scale) =>
        OnHost("Fft", [x], [y], (cpu, i, o) => { cpu.Fft(i[0], o[0]!, inverse, scale); return 0; });

    /// <summary>
    /// Runs a CPU kernel on host copies of <paramref name="inputs"/> (device tensors, read in place of any
    /// strides) into host outputs shaped like <paramref name="outputs"/> (contiguous device tensors, or null for an
    /// output the kernel is told to skip), then copies each host output into its device tensor.
    /// </summary>
    private TResult OnHost<TResult>(string kernel, Tensor[] inputs, Tensor?[] outputs, Func<IBackend, Tensor[], Tensor?[], TResult> run)
    {
        foreach (var o in outputs)
            if (o is not null) RequireContiguous(o, kernel);
        var cpu = BackendRegistry.Get(Device.Cpu);
        var hostIn = new Tensor[inputs.Length];
        var hostOut = new Tensor?[outputs.Length];
        try
        {
            using (GradMode.Disable())
            {
                for (int i = 0; i < inputs.Length; i++) hostIn[i] = Ops.ToDevice(inputs[i], Device.Cpu);
                for (int i = 0; i < outputs.Length; i++)
                    hostOut[i] = outputs[i] is { } o ? Tensor.Empty(o.Shape, o.DType, Device.Cpu) : null;
            }
            var result = run(cpu, hostIn, hostOut);
            for (int i = 0; i < outputs.Length; i++)
            {
                if (outputs[i] is not { } dst) continue;
                var src = hostOut[i]!;
                int size = dst.DType.SizeOf();
                CopyFromHost(src.HostStorage.AsSpan<byte>(src.Offset * size, src.Numel * size), dst.Storage, dst.Offset * size);
            }
            return result;
        }
        finally
        {
            foreach (var t in hostIn) t?.Dispose();
            foreach (var t in hostOut) t?.Dispose();
        }
    }
}
