namespace PeftEngine.Quant;

/// <summary>
/// The 16-value codebooks of the 4-bit types, in index order, and the nearest-value rule that maps a
/// scaled weight x ∈ [-1, 1] to its 4-bit index, exactly as bitsandbytes' quantization kernels decide it.
/// </summary>
/// <remarks>
/// NF4 (Dettmers et al., "QLoRA", arXiv 2305.14314, §3): the table is bitsandbytes' hard-coded
/// <c>nf4_dequantization_lut</c>; it is sorted, so an index is its rank, and a value is rounded to the nearest entry
/// (a value exactly half-way goes to the lower one). FP4: bitsandbytes' <c>fp4_dequantization_lut</c>; the low three
/// bits hold the magnitude, bit 3 the sign, and the magnitudes are not sorted by index, so the decision thresholds
/// (midpoints of the sorted magnitudes) are spelled out one by one.
/// </remarks>
public static class Codebooks
{
    /// <summary>NF4 values by index.</summary>
    public static ReadOnlySpan<float> Nf4 =>
    [
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    ];

    /// <summary>FP4 values by index: magnitudes {0, 0.0625, 8, 12, 4, 6, 2, 3} / 12 for indices 0..7, negated for 8..15.</summary>
    public static ReadOnlySpan<float> Fp4 =>
    [
        0f, 0.005208333333f, 0.66666667f, 1.0f, 0.33333333f, 0.5f, 0.16666667f, 0.25f,
        -0f, -0.005208333333f, -0.66666667f, -1.0f, -0.33333333f, -0.5f, -0.16666667f, -0.25f,
    ];

    /// <summary>The codebook of <paramref name="type"/>.</summary>
    public static float[] For(FourBitType type) => type switch
    {
        FourBitType.Nf4 => Nf4.ToArray(),
        FourBitType.Fp4 => Fp4.ToArray(),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown 4-bit type"),
    };

    /// <summary>The index of the NF4 value nearest to x (x already divided by its block's absmax).</summary>
    public static int NearestNf4(float x)
    {
        // The thresholds are the midpoints between neighbouring NF4 values; a tie goes to the lower index.
        if (x > 0.03979014977812767f)
        {
            if (x > 0.3893125355243683f)
            {
                if (x > 0.6427869200706482f) return x > 0.8614784181118011f ? 15 : 14;
                return x > 0.5016634166240692f ? 13 : 12;
            }
            if (x > 0.2035212516784668f) return x > 0.2920137718319893f ? 11 : 10;
            return x > 0.1202552504837513f ? 9 : 8;
        }
        if (x > -0.33967943489551544f)
        {
            if (x > -0.13791173323988914f) return x > -0.045525018125772476f ? 7 : 6;
            return x > -0.23460740596055984f ? 5 : 4;
        }
        if (x > -0.6106329262256622f) return x > -0.4599952697753906f ? 3 : 2;
        return x > -0.8480964004993439f ? 1 : 0;
    }

    /// <summary>The index of the FP4 value nearest to x (x already divided by its block's absmax).</summary>
    public static int NearestFp4(float x)
    {
        int sign = x < 0 ? 0b1000 : 0;
        float a = MathF.Abs(x);
        int magnitude;
        if (a > 0.29166667f)
            magnitude = a > 0.583333f ? (a > 0.8333333f ? 0b011 : 0b010) : (a > 0.4166667f ? 0b101 : 0b100);
        else
            magnitude = a > 0.0859375f ? (a > 0.20833333f ? 0b111 : 0b110) : (a > 0.00260417f ? 0b001 : 0b000);
        return sign | magnitude;
    }

    /// <summary>The nearest-index rule of <paramref name="type"/>.</summary>
    public static int Nearest(FourBitType type, float x) => type == FourBitType.Nf4 ? NearestNf4(x) : NearestFp4(x);
}
