using System.Runtime.CompilerServices;

namespace PeftEngine;

/// <summary>
/// Brain floating point: the top 16 bits of an IEEE float32 (1 sign, 8 exponent, 7 mantissa bits).
/// Same range as float32, about three significant decimal digits.
/// </summary>
/// <remarks>PyTorch: torch.bfloat16. Narrowing rounds to nearest, ties to even; NaN stays a (quiet) NaN.</remarks>
public readonly struct BFloat16 : IEquatable<BFloat16>
{
    /// <summary>The raw 16 bits.</summary>
    public readonly ushort Bits;

    private BFloat16(ushort bits) => Bits = bits;

    /// <summary>Reinterprets 16 raw bits as a bfloat16.</summary>
    public static BFloat16 FromBits(ushort bits) => new(bits);

    /// <summary>Rounds a float32 to the nearest bfloat16 (ties to even).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BFloat16 FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000)          // NaN: keep the sign, force a quiet NaN
            return new BFloat16((ushort)((bits >> 16) | 0x0040));
        // Add 0x7FFF plus the lowest kept bit: values above the halfway point carry into the kept bits,
        // values exactly halfway carry only when the kept part is odd (ties to even).
        uint lsb = (bits >> 16) & 1;
        bits += 0x7FFF + lsb;
        return new BFloat16((ushort)(bits >> 16));
    }

    /// <summary>Widens to float32 exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float ToSingle() => BitConverter.UInt32BitsToSingle((uint)Bits << 16);

    public static explicit operator BFloat16(float value) => FromSingle(value);
    public static implicit operator float(BFloat16 value) => value.ToSingle();

    public bool Equals(BFloat16 other) => Bits == other.Bits;
    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);
    public override int GetHashCode() => Bits;
    public override string ToString() => ToSingle().ToString("G4", System.Globalization.CultureInfo.InvariantCulture);
}
