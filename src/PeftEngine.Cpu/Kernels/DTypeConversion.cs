using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

/// <summary>Bulk conversion between dtypes for contiguous tensors.</summary>
internal static unsafe class DTypeConversion
{
    public static void Convert(Tensor src, Tensor dst)
    {
        long n = src.Numel;
        byte* s = (byte*)src.HostStorage.Pointer + src.Offset * src.DType.SizeOf();
        byte* d = (byte*)dst.HostStorage.Pointer + dst.Offset * dst.DType.SizeOf();
        CpuParallel.For(n, 1, (i0, i1) => ConvertRange(src.DType, s, dst.DType, d, i0, (int)(i1 - i0)));
    }

    private static void ConvertRange(DType st, byte* s, DType dt, byte* d, long start, int len)
    {
        // Fast paths between the float types; everything else goes element by element through double.
        if (st == DType.F32 && dt == DType.F16)
            TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>((float*)s + start, len), new Span<Half>((Half*)d + start, len));
        else if (st == DType.F16 && dt == DType.F32)
            TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)s + start, len), new Span<float>((float*)d + start, len));
        else if (st == DType.F32 && dt == DType.F64)
            TensorPrimitives.ConvertChecked<float, double>(new ReadOnlySpan<float>((float*)s + start, len), new Span<double>((double*)d + start, len));
        else if (st == DType.F64 && dt == DType.F32)
            TensorPrimitives.ConvertTruncating<double, float>(new ReadOnlySpan<double>((double*)s + start, len), new Span<float>((float*)d + start, len));
        else if (st == DType.F32 && dt == DType.BF16)
            for (int i = 0; i < len; i++) ((BFloat16*)d)[start + i] = BFloat16.FromSingle(((float*)s)[start + i]);
        else if (st == DType.BF16 && dt == DType.F32)
            for (int i = 0; i < len; i++) ((float*)d)[start + i] = ((BFloat16*)s)[start + i].ToSingle();
        else
            for (int i = 0; i < len; i++) Write(dt, d, start + i, Read(st, s, start + i), st.IsFloat() && !dt.IsFloat());
    }

    private static double Read(DType t, byte* p, long i) => t switch
    {
        DType.F32 => ((float*)p)[i],
        DType.F64 => ((double*)p)[i],
        DType.F16 => (double)((Half*)p)[i],
        DType.BF16 => ((BFloat16*)p)[i].ToSingle(),
        DType.I32 => ((int*)p)[i],
        DType.I64 => ((long*)p)[i],
        DType.U8 => p[i],
        _ => throw new NotSupportedException(t.ToString()),
    };

    private static void Write(DType t, byte* p, long i, double v, bool truncate)
    {
        if (truncate) v = Math.Truncate(v);
        switch (t)
        {
            case DType.F32: ((float*)p)[i] = (float)v; break;
            case DType.F64: ((double*)p)[i] = v; break;
            case DType.F16: ((Half*)p)[i] = (Half)(float)v; break;
            case DType.BF16: ((BFloat16*)p)[i] = BFloat16.FromSingle((float)v); break;
            case DType.I32: ((int*)p)[i] = checked((int)v); break;
            case DType.I64: ((long*)p)[i] = (long)v; break;
            case DType.U8: p[i] = checked((byte)v); break;
            default: throw new NotSupportedException(t.ToString());
        }
    }
}
