namespace PeftEngine.Cpu;

/// <summary>
/// Scalar reference kernels: one plain loop per kernel, computing in double. They define what every fast
/// kernel (SIMD, threaded, GPU) must compute, and are the simplest place to read how each op works.
/// </summary>
public sealed partial class ReferenceBackend : HostBackendBase, IBackend
{
    /// <summary>The one instance, for <see cref="Device.CpuReference"/>.</summary>
    public static ReferenceBackend Instance { get; } = new();

    private ReferenceBackend() : base(Device.CpuReference) { }

    public void Copy(Tensor src, Tensor dst)
    {
        using var s = ElementOffsets(src).GetEnumerator();
        foreach (long d in ElementOffsets(dst))
        {
            s.MoveNext();
            CopyElementBytes(src, s.Current, dst, d);
        }
    }

    public void Cast(Tensor src, Tensor dst)
    {
        using var s = ElementOffsets(src).GetEnumerator();
        foreach (long d in ElementOffsets(dst))
        {
            s.MoveNext();
            double v = ReadAsDouble(src, s.Current);
            if (!dst.DType.IsFloat()) v = Math.Truncate(v);
            if (src.DType == DType.F64 && dst.DType is DType.BF16 or DType.F16)
                v = (float)v; // narrow through f32, as the fast kernels do
            WriteDouble(dst, d, v);
        }
    }

    public void Fill(Tensor dst, double value)
    {
        foreach (long d in ElementOffsets(dst)) WriteDouble(dst, d, value);
    }
}
