using System.Buffers;
using System.Numerics;

namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Where(Tensor cond, Tensor a, Tensor b, Tensor y)
    {
        if (cond.DType != DType.U8) throw Unsupported("Where condition", cond.DType);
        RequireContiguous("Where", y);
        switch (a.DType.SizeOf())
        {
            case 1: WhereRows<byte>(cond, a, b, y); break;
            case 2: WhereRows<ushort>(cond, a, b, y); break;
            case 4: WhereRows<uint>(cond, a, b, y); break;
            case 8: WhereRows<ulong>(cond, a, b, y); break;
            default: throw Unsupported("Where", a.DType);
        }
    }

    public void Compare(CompareOp op, Tensor a, Tensor b, Tensor y)
    {
        RequireContiguous($"Compare {op}", y);
        switch (a.DType)
        {
            case DType.F32: CompareRows<float>(op, a, b, y); break;
            case DType.F64: CompareRows<double>(op, a, b, y); break;
            case DType.I32: CompareRows<int>(op, a, b, y); break;
            case DType.I64: CompareRows<long>(op, a, b, y); break;
            case DType.U8: CompareRows<byte>(op, a, b, y); break;
            default: throw Unsupported($"Compare {op}", a.DType);
        }
    }

    /// <summary>Where over rows, with elements handled as unsigned integers T of the dtype's size.</summary>
    private static void WhereRows<T>(Tensor cond, Tensor a, Tensor b, Tensor y) where T : unmanaged
    {
        var plan = RowLayout.Of(y, cond, a, b);
        T* py = y.HostStorage.Ptr<T>(), pa = a.HostStorage.Ptr<T>(), pb = b.HostStorage.Ptr<T>();
        byte* pc = cond.HostStorage.Ptr<byte>();
        long sc = plan.InnerStrides[1], sa = plan.InnerStrides[2], sb = plan.InnerStrides[3];
        var segments = new RowSegments(plan);
        CpuParallel.For(segments.Count, segments.MaxLength, (s0, s1) =>
        {
            byte[] bufC = ArrayPool<byte>.Shared.Rent(segments.MaxLength);
            T[] bufA = ArrayPool<T>.Shared.Rent(segments.MaxLength), bufB = ArrayPool<T>.Shared.Rent(segments.MaxLength);
            for (long s = s0; s < s1; s++)
            {
                var (row, start, len) = segments[s];
                var c = RowSpan(pc + plan.Offset(1, row) + start * sc, sc, len, bufC);
                var ra = RowSpan(pa + plan.Offset(2, row) + start * sa, sa, len, bufA);
                var rb = RowSpan(pb + plan.Offset(3, row) + start * sb, sb, len, bufB);
                SelectKernels.Where(c, ra, rb, new Span<T>(py + plan.Offset(0, row) + start, len));
            }
            ArrayPool<byte>.Shared.Return(bufC);
            ArrayPool<T>.Shared.Return(bufA);
            ArrayPool<T>.Shared.Return(bufB);
        });
    }

    private static void CompareRows<T>(CompareOp op, Tensor a, Tensor b, Tensor y) where T : unmanaged, INumber<T>
    {
        var plan = RowLayout.Of(y, a, b);
        byte* py = y.HostStorage.Ptr<byte>();
        T* pa = a.HostStorage.Ptr<T>(), pb = b.HostStorage.Ptr<T>();
        long sa = plan.InnerStrides[1], sb = plan.InnerStrides[2];
        var segments = new RowSegments(plan);
        CpuParallel.For(segments.Count, segments.MaxLength, (s0, s1) =>
        {
            T[] bufA = ArrayPool<T>.Shared.Rent(segments.MaxLength), bufB = ArrayPool<T>.Shared.Rent(segments.MaxLength);
            for (long s = s0; s < s1; s++)
            {
                var (row, start, len) = segments[s];
                var ra = RowSpan(pa + plan.Offset(1, row) + start * sa, sa, len, bufA);
                var rb = RowSpan(pb + plan.Offset(2, row) + start * sb, sb, len, bufB);
                SelectKernels.Compare(op, ra, rb, new Span<byte>(py + plan.Offset(0, row) + start, len));
            }
            ArrayPool<T>.Shared.Return(bufA);
            ArrayPool<T>.Shared.Return(bufB);
        });
    }
}
