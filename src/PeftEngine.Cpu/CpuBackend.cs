using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>
/// The default backend: SIMD kernels (System.Numerics.Tensors / Vector512) over contiguous rows, run on
/// several threads for large tensors. Every kernel is tested against <see cref="ReferenceBackend"/>.
/// </summary>
public sealed unsafe partial class CpuBackend : HostBackendBase, IBackend
{
    /// <summary>The one instance, for <see cref="Device.Cpu"/>.</summary>
    public static CpuBackend Instance { get; } = new();

    private CpuBackend() : base(Device.Cpu) { }

    public void Copy(Tensor src, Tensor dst)
    {
        if (src.Shape != dst.Shape) throw new ArgumentException($"Copy: shapes {src.Shape} and {dst.Shape} differ");
        if (src.DType != dst.DType) throw new ArgumentException($"Copy: dtypes {src.DType.Name()} and {dst.DType.Name()} differ; use Cast");
        int size = src.DType.SizeOf();
        var plan = RowLayout.Of(dst, src);
        byte* d0 = (byte*)dst.HostStorage.Pointer, s0 = (byte*)src.HostStorage.Pointer;
        long ds = plan.InnerStrides[0], ss = plan.InnerStrides[1];
        int len = plan.RowLength;
        CpuParallel.For(plan.RowCount, len, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                byte* d = d0 + plan.Offset(0, r) * size;
                byte* s = s0 + plan.Offset(1, r) * size;
                if (ds == 1 && ss == 1)
                    Buffer.MemoryCopy(s, d, (long)len * size, (long)len * size);
                else
                    CopyStridedRow(s, ss, d, ds, len, size);
            }
        });
    }

    /// <summary>Copies one row of <paramref name="len"/> elements of <paramref name="size"/> bytes between
    /// strided locations. Each element size gets its own typed loop, so an element moves with one load and one
    /// store instead of a general byte copy per element.</summary>
    private static void CopyStridedRow(byte* s, long ss, byte* d, long ds, int len, int size)
    {
        switch (size)
        {
            case 4: CopyStridedRow((uint*)s, ss, (uint*)d, ds, len); break;
            case 8: CopyStridedRow((ulong*)s, ss, (ulong*)d, ds, len); break;
            case 2: CopyStridedRow((ushort*)s, ss, (ushort*)d, ds, len); break;
            case 1: CopyStridedRow(s, ss, d, ds, len); break;
            default:
                for (int i = 0; i < len; i++)
                    Buffer.MemoryCopy(s + i * ss * size, d + i * ds * size, size, size);
                break;
        }
    }

    private static void CopyStridedRow<T>(T* s, long ss, T* d, long ds, int len) where T : unmanaged
    {
        if (ds == 1)
            for (int i = 0; i < len; i++) d[i] = s[i * ss];          // gather into a contiguous row
        else
            for (int i = 0; i < len; i++) d[i * ds] = s[i * ss];
    }

    public void Fill(Tensor dst, double value)
    {
        var plan = RowLayout.Of(dst);
        switch (dst.DType)
        {
            case DType.F32: FillRows(dst, plan, (float)value); break;
            case DType.F64: FillRows(dst, plan, value); break;
            case DType.F16: FillRows(dst, plan, (Half)value); break;
            case DType.BF16: FillRows(dst, plan, BFloat16.FromSingle((float)value)); break;
            case DType.I32: FillRows(dst, plan, checked((int)value)); break;
            case DType.I64: FillRows(dst, plan, (long)value); break;
            case DType.U8: FillRows(dst, plan, checked((byte)value)); break;
            default: throw Unsupported("Fill", dst.DType);
        }
    }

    private static void FillRows<T>(Tensor dst, RowLayout plan, T value) where T : unmanaged
    {
        T* p = dst.HostStorage.Ptr<T>();
        long stride = plan.InnerStrides[0];
        int len = plan.RowLength;
        CpuParallel.For(plan.RowCount, len, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                T* row = p + plan.Offset(0, r);
                if (stride == 1) new Span<T>(row, len).Fill(value);
                else for (int i = 0; i < len; i++) row[i * stride] = value;
            }
        });
    }

    public void Cast(Tensor src, Tensor dst)
    {
        if (src.DType == dst.DType) { Copy(src, dst); return; }
        using var s = src.IsContiguous ? src.Alias() : ContiguousCopy(src);
        var d = dst.IsContiguous ? dst : Tensor.Empty(dst.Shape, dst.DType, dst.Device);
        try { DTypeConversion.Convert(s, d); }
        finally
        {
            if (!ReferenceEquals(d, dst))
            {
                Copy(d, dst);
                d.Dispose();
            }
        }
    }

    private Tensor ContiguousCopy(Tensor t)
    {
        var c = Tensor.Empty(t.Shape, t.DType, t.Device);
        Copy(t, c);
        return c;
    }
}
