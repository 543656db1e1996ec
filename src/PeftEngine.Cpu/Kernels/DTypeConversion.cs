using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace PeftEngine.Cpu;

/// <summary>
/// Bulk conversion between dtypes for contiguous tensors. The float pairs have vectorised paths: f32↔bf16 with
/// Vector512/Vector256 bit arithmetic (round to nearest, ties to even; NaN stays a quiet NaN), f32↔f16 and
/// f32↔f64 through TensorPrimitives. f64 and f16 reach bf16 (and f64 reaches f16) through f32, exactly as the
/// reference backend does. Integer conversions go element by element through double (truncating toward zero,
/// checked for overflow).
/// </summary>
internal static unsafe class DTypeConversion
{
    /// <summary>Elements per work item; also the size of the f32 staging buffer for two-step conversions.</summary>
    private const int Chunk = 8192;

    public static void Convert(Tensor src, Tensor dst)
    {
        long n = src.Numel;
        byte* s = (byte*)src.HostStorage.Pointer + src.Offset * src.DType.SizeOf();
        byte* d = (byte*)dst.HostStorage.Pointer + dst.Offset * dst.DType.SizeOf();
        DType st = src.DType, dt = dst.DType;
        CpuParallel.For((n + Chunk - 1) / Chunk, Chunk, (c0, c1) =>
        {
            for (long c = c0; c < c1; c++)
            {
                long start = c * Chunk;
                int len = (int)Math.Min(Chunk, n - start);
                ConvertRange(st, s + start * st.SizeOf(), dt, d + start * dt.SizeOf(), len);
            }
        });
    }

    /// <summary>Converts <paramref name="len"/> (at most <see cref="Chunk"/>) elements.</summary>
    private static void ConvertRange(DType st, byte* s, DType dt, byte* d, int len)
    {
        if (st.IsFloat() && dt.IsFloat() && (st == DType.F32 || dt == DType.F32))
        {
            ConvertViaF32(st, s, dt, d, len);
            return;
        }
        if (st.IsFloat() && dt.IsFloat())
        {
            // Neither side is f32: widen to f32 (exact except f64 -> f32, which rounds once), then narrow.
            var buffer = new float[len];
            fixed (float* f = buffer)
            {
                ConvertViaF32(st, s, DType.F32, (byte*)f, len);
                ConvertViaF32(DType.F32, (byte*)f, dt, d, len);
            }
            return;
        }
        bool truncate = st.IsFloat() && !dt.IsFloat();
        for (int i = 0; i < len; i++)
        {
            double v = HostBackendBase.ReadElement(st, s, i);
            HostBackendBase.WriteElement(dt, d, i, truncate ? Math.Truncate(v) : v);
        }
    }

    /// <summary>One of the conversions with f32 on one side.</summary>
    private static void ConvertViaF32(DType st, byte* s, DType dt, byte* d, int len)
    {
        switch (st, dt)
        {
            case (DType.F32, DType.BF16): NarrowToBFloat16((float*)s, (ushort*)d, len); break;
            case (DType.BF16, DType.F32): WidenFromBFloat16((ushort*)s, (float*)d, len); break;
            case (DType.F32, DType.F16): TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(s, len), new Span<Half>(d, len)); break;
            case (DType.F16, DType.F32): TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(s, len), new Span<float>(d, len)); break;
            case (DType.F32, DType.F64): TensorPrimitives.ConvertChecked<float, double>(new ReadOnlySpan<float>(s, len), new Span<double>(d, len)); break;
            case (DType.F64, DType.F32): TensorPrimitives.ConvertTruncating<double, float>(new ReadOnlySpan<double>(s, len), new Span<float>(d, len)); break;
            case (DType.F32, DType.F32): new ReadOnlySpan<float>(s, len).CopyTo(new Span<float>(d, len)); break;
            default: throw new NotSupportedException($"internal error: no f32 conversion {st.Name()} -> {dt.Name()}");
        }
    }

    /// <summary>f32 -> bf16, rounding to nearest with ties to even: add 0x7FFF plus the lowest kept bit, keep the top
    /// 16 bits. NaNs keep their sign and top payload bits and get the quiet bit (0x40) set.</summary>
    public static void NarrowToBFloat16(float* src, ushort* dst, int len)
    {
        int i = 0;
        uint* s = (uint*)src;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 32 <= len; i += 32)
                Vector512.Narrow(Round(Vector512.Load(s + i)), Round(Vector512.Load(s + i + 16))).Store(dst + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= len; i += 16)
                Vector256.Narrow(Round(Vector256.Load(s + i)), Round(Vector256.Load(s + i + 8))).Store(dst + i);
        }
        for (; i < len; i++) dst[i] = BFloat16.FromSingle(src[i]).Bits;
    }

    /// <summary>bf16 -> f32 exactly: the 16 bits become the top half of the float.</summary>
    public static void WidenFromBFloat16(ushort* src, float* dst, int len)
    {
        int i = 0;
        uint* d = (uint*)dst;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 32 <= len; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(src + i));
                (lo << 16).Store(d + i);
                (hi << 16).Store(d + i + 16);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= len; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(src + i));
                (lo << 16).Store(d + i);
                (hi << 16).Store(d + i + 8);
            }
        }
        for (; i < len; i++) d[i] = (uint)src[i] << 16;
    }

    /// <summary>The bf16 bits of 16 floats (in the low half of each lane); see <see cref="BFloat16.FromSingle"/>.</summary>
    private static Vector512<uint> Round(Vector512<uint> bits)
    {
        var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >>> 16) & Vector512<uint>.One)) >>> 16;
        var isNaN = Vector512.GreaterThan(bits & Vector512.Create(0x7FFF_FFFFu), Vector512.Create(0x7F80_0000u));
        return Vector512.ConditionalSelect(isNaN, (bits >>> 16) | Vector512.Create(0x40u), rounded);
    }

    /// <summary>The bf16 bits of 8 floats.</summary>
    private static Vector256<uint> Round(Vector256<uint> bits)
    {
        var rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >>> 16) & Vector256<uint>.One)) >>> 16;
        var isNaN = Vector256.GreaterThan(bits & Vector256.Create(0x7FFF_FFFFu), Vector256.Create(0x7F80_0000u));
        return Vector256.ConditionalSelect(isNaN, (bits >>> 16) | Vector256.Create(0x40u), rounded);
    }
}
