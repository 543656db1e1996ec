using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>
/// Reading and writing elements of any dtype as doubles inside kernels, and the 16-bit float formats as bit
/// patterns (kernels cannot use System.Half, so F16 and BF16 live in ushort storage and convert by hand).
/// </summary>
internal static class ElementBits
{
    /// <summary>Element <paramref name="i"/> of a buffer of dtype <paramref name="dtype"/> (a <see cref="DType"/> as int), widened to double.</summary>
    public static double Load(ArrayView<byte> buffer, int dtype, long i) => dtype switch
    {
        0 => buffer.Cast<float>()[i],
        1 => buffer.Cast<double>()[i],
        2 => HalfToSingle(buffer.Cast<ushort>()[i]),
        3 => BFloat16ToSingle(buffer.Cast<ushort>()[i]),
        4 => buffer.Cast<int>()[i],
        5 => buffer.Cast<long>()[i],
        _ => buffer[i],
    };

    /// <summary>Stores <paramref name="v"/> rounded to the dtype (floats to nearest even; to integers toward zero).</summary>
    public static void Store(ArrayView<byte> buffer, int dtype, long i, double v)
    {
        switch (dtype)
        {
            case 0: buffer.Cast<float>()[i] = (float)v; break;
            case 1: buffer.Cast<double>()[i] = v; break;
            case 2: buffer.Cast<ushort>()[i] = SingleToHalf((float)v); break;
            case 3: buffer.Cast<ushort>()[i] = SingleToBFloat16((float)v); break;
            case 4: buffer.Cast<int>()[i] = (int)v; break;
            case 5: buffer.Cast<long>()[i] = (long)v; break;
            default: buffer[i] = (byte)v; break;
        }
    }

    /// <summary>bf16 bits to float: the bits are the top half of the float's.</summary>
    public static float BFloat16ToSingle(ushort bits) => Interop.IntAsFloat((uint)bits << 16);

    /// <summary>float to bf16 bits, rounding to nearest even; NaN stays a quiet NaN.</summary>
    public static ushort SingleToBFloat16(float f)
    {
        uint x = Interop.FloatAsInt(f);
        if ((x & 0x7fffffffu) > 0x7f800000u) return (ushort)((x >> 16) | 0x40);
        x += 0x7fffu + ((x >> 16) & 1u);
        return (ushort)(x >> 16);
    }

    /// <summary>IEEE binary16 bits to float (exact).</summary>
    public static float HalfToSingle(ushort h)
    {
        uint sign = (uint)(h & 0x8000) << 16;
        int exp = (h >> 10) & 0x1f;
        uint mant = (uint)(h & 0x3ff);
        if (exp == 0)
        {
            float sub = mant * 5.9604644775390625e-8f; // mant · 2^-24, exact
            return sign != 0 ? -sub : sub;
        }
        if (exp == 31) return Interop.IntAsFloat(sign | 0x7f800000u | (mant << 13));
        return Interop.IntAsFloat(sign | ((uint)(exp - 15 + 127) << 23) | (mant << 13));
    }

    /// <summary>float to IEEE binary16 bits, rounding to nearest even (overflow gives infinity).</summary>
    public static ushort SingleToHalf(float f)
    {
        uint x = Interop.FloatAsInt(f);
        uint sign = (x >> 16) & 0x8000u;
        uint ax = x & 0x7fffffffu;
        if (ax >= 0x7f800000u) return (ushort)(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
        if (ax >= 0x477ff000u) return (ushort)(sign | 0x7c00u);   // rounds to beyond 65504
        if (ax < 0x38800000u)
        {
            // Below the smallest normal half (2^-14): adding 0.5 makes the float's rounding step 2^-24, the
            // half's subnormal step, so the addition itself rounds to nearest even.
            float shifted = Interop.IntAsFloat(ax) + 0.5f;
            return (ushort)(sign | (Interop.FloatAsInt(shifted) - 0x3f000000u));
        }
        uint odd = (ax >> 13) & 1u;
        ax += 0xc8000fffu + odd; // rebias the exponent (15 - 127) and round
        return (ushort)(sign | (ax >> 13));
    }
}
