namespace PeftEngine;

/// <summary>What kind of machine a tensor lives on and which kernels compute on it.</summary>
public enum DeviceKind
{
    /// <summary>Host memory, fast SIMD and multi-threaded kernels (PeftEngine.Cpu).</summary>
    Cpu,
    /// <summary>Host memory, scalar reference kernels: the definition the fast kernels are tested against.</summary>
    CpuReference,
    /// <summary>An NVIDIA GPU through ILGPU.</summary>
    Cuda,
    /// <summary>An OpenCL device through ILGPU.</summary>
    OpenCL,
    /// <summary>ILGPU's CPU accelerator: GPU kernels run on the host, for testing.</summary>
    IlgpuCpu,
}

/// <summary>A device: a kind and an index (GPU number).</summary>
/// <remarks>PyTorch: torch.device. Tensors never move between devices silently; use <c>Tensor.To(device)</c>.</remarks>
public readonly record struct Device(DeviceKind Kind, int Index = 0)
{
    /// <summary>The default device: host memory with the fast CPU kernels.</summary>
    public static readonly Device Cpu = new(DeviceKind.Cpu);

    /// <summary>Host memory with the scalar reference kernels.</summary>
    public static readonly Device CpuReference = new(DeviceKind.CpuReference);

    /// <summary>True when the memory is ordinary host memory that spans can read.</summary>
    public bool IsHost => Kind is DeviceKind.Cpu or DeviceKind.CpuReference;

    public override string ToString() => Kind switch
    {
        DeviceKind.Cpu => "cpu",
        DeviceKind.CpuReference => "cpu-ref",
        _ => $"{Kind.ToString().ToLowerInvariant()}:{Index}",
    };
}
