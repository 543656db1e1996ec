using PeftEngine.Gpu;

namespace PeftEngine.Cli;

/// <summary>The <c>--device</c> option: cpu, cuda:N, opencl:N or gpu-sim (ILGPU's CPU accelerator running the GPU
/// kernels on the host, for testing only: slow).</summary>
internal static class DeviceOption
{
    /// <summary>What --help says about the option.</summary>
    public const string Help = "cpu, cuda:N or opencl:N (a GPU through ILGPU), or gpu-sim (the GPU kernels on ILGPU's CPU accelerator: for testing, very slow) (default: cpu)";

    /// <summary>The device named by <paramref name="text"/>, opened (its backend registered); null or cpu is the CPU.
    /// A device that cannot be opened throws an <see cref="ArgumentException"/> with one line naming it and why.</summary>
    public static Device Open(string? text)
    {
        var device = Parse(text);
        if (device.IsHost) return device;
        try
        {
            GpuBackend.Open(device);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string reason = e.Message.Split('\n')[0].TrimEnd();
            string kind = device.Kind switch { DeviceKind.Cuda => "CUDA", DeviceKind.OpenCL => "OpenCL", _ => "GPU" };
            throw new ArgumentException($"--device {text}: no {kind} device could be opened: {reason}");
        }
        return device;
    }

    /// <summary>Parses the option without opening anything.</summary>
    public static Device Parse(string? text)
    {
        string s = (text ?? "cpu").Trim().ToLowerInvariant();
        if (s == "cpu") return Device.Cpu;
        if (s is "gpu-sim" or "ilgpucpu" or "ilgpucpu:0") return new Device(DeviceKind.IlgpuCpu);
        string[] parts = s.Split(':');
        var kind = parts[0] switch
        {
            "cuda" => DeviceKind.Cuda,
            "opencl" => DeviceKind.OpenCL,
            _ => throw new ArgumentException($"--device '{text}': use cpu, cuda:N, opencl:N or gpu-sim"),
        };
        int index = 0;
        if (parts.Length > 2 || (parts.Length == 2 && (!int.TryParse(parts[1], out index) || index < 0)))
            throw new ArgumentException($"--device '{text}': the device number must be a non-negative integer, as cuda:0");
        return new Device(kind, index);
    }
}
