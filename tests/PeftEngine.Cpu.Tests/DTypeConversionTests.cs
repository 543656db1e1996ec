namespace PeftEngine.Tests;

public class DTypeConversionTests
{
    private static Tensor Bf16(ushort[] bits) =>
        Tensor.FromArray(bits.Select(BFloat16.FromBits).ToArray());

    private static ushort[] Bf16Bits(Tensor t) => t.ToArray<BFloat16>().Select(b => b.Bits).ToArray();

    [Fact]
    public void EveryBFloat16RoundTripsThroughF32()
    {
        var all = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
        using var b = Bf16(all);
        using var f = b.To(DType.F32);                    // vectorised widen, several threads
        using var back = f.To(DType.BF16);                // vectorised narrow
        var widened = f.ToArray<float>();
        var bits = Bf16Bits(back);
        for (int i = 0; i < all.Length; i++)
        {
            Assert.Equal((uint)i << 16, BitConverter.SingleToUInt32Bits(widened[i])); // widening is exact
            bool nan = (i & 0x7FFF) > 0x7F80;
            if (!nan) Assert.Equal(all[i], bits[i]);
            else
            {
                Assert.True(float.IsNaN(BFloat16.FromBits(bits[i]).ToSingle()), $"NaN 0x{i:X4} became 0x{bits[i]:X4}");
                Assert.Equal(i & 0x8000, bits[i] & 0x8000);          // sign kept
                Assert.Equal(i | 0x40, bits[i]);                      // quiet bit set, payload kept
            }
        }
    }

    [Fact]
    public void VectorisedNarrowingEqualsTheScalarDefinitionOnRandomBitPatterns()
    {
        var rng = new Random(17);
        var floats = new float[100_003];
        for (int i = 0; i < floats.Length; i++) floats[i] = BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32));
        using var f = Tensor.FromArray(floats);
        using var b = f.To(DType.BF16);
        var bits = Bf16Bits(b);
        for (int i = 0; i < floats.Length; i++) Assert.Equal(BFloat16.FromSingle(floats[i]).Bits, bits[i]);
    }

    public static TheoryData<float, float> Ties() => new()
    {
        { 1f + MathF.Pow(2, -8), 1f },                                       // halfway, 1 is even
        { 1f + 3 * MathF.Pow(2, -8), 1f + MathF.Pow(2, -6) },               // halfway, 1 + 2^-7 is odd: up to even
        { 1f + MathF.Pow(2, -8) + MathF.Pow(2, -23), 1f + MathF.Pow(2, -7) }, // just above halfway
        { 1f + MathF.Pow(2, -8) - MathF.Pow(2, -23), 1f },                   // just below halfway
        { -(1f + MathF.Pow(2, -8)), -1f },
        { -(1f + 3 * MathF.Pow(2, -8)), -(1f + MathF.Pow(2, -6)) },
        { 256f + 1f, 256f },                                                 // 257 is halfway between 256 and 258
        { 256f + 3f, 260f },
        { float.MaxValue, float.PositiveInfinity },                          // rounds past the largest bf16
        { BitConverter.UInt32BitsToSingle(0x0000_8000), 0f },                // subnormal tie, even
        { BitConverter.UInt32BitsToSingle(0x0001_8000), BitConverter.UInt32BitsToSingle(0x0002_0000) }, // subnormal tie, odd
        { float.NegativeInfinity, float.NegativeInfinity },
    };

    [Theory]
    [MemberData(nameof(Ties))]
    public void NarrowingRoundsToNearestTiesToEven(float input, float expected)
    {
        // 40 copies: the first 32 take the vector path, the last 8 the scalar tail.
        using var f = Tensor.FromArray(Enumerable.Repeat(input, 40).ToArray());
        using var b = f.To(DType.BF16);
        Assert.All(b.ToArray<BFloat16>(), v => Assert.Equal(expected, v.ToSingle()));
        Assert.Equal(expected, BFloat16.FromSingle(input).ToSingle());
    }

    [Fact]
    public void F64ReachesBFloat16ThroughF32()
    {
        // 1 + 2^-8 + 2^-30 rounds to the f32 1 + 2^-8 first, which is a bf16 tie that goes to 1.
        double x = 1 + Math.Pow(2, -8) + Math.Pow(2, -30);
        using var d = Tensor.FromArray(Enumerable.Repeat(x, 40).ToArray());
        using var b = d.To(DType.BF16);
        Assert.All(b.ToArray<BFloat16>(), v => Assert.Equal(1f, v.ToSingle()));
        using var back = b.To(DType.F64);
        Assert.All(back.ToArray<double>(), v => Assert.Equal(1.0, v));
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void EveryHalfRoundTrips(DType wide)
    {
        var all = Enumerable.Range(0, 65536).Select(i => BitConverter.UInt16BitsToHalf((ushort)i)).ToArray();
        using var h = Tensor.FromArray(all);
        using var w = h.To(wide);
        using var back = w.To(DType.F16);
        var result = back.ToArray<Half>();
        var widened = w.ToDoubleArray();
        for (int i = 0; i < all.Length; i++)
        {
            if (Half.IsNaN(all[i]))
            {
                Assert.True(Half.IsNaN(result[i]) && double.IsNaN(widened[i]), $"NaN 0x{i:X4}");
                continue;
            }
            Assert.Equal((double)all[i], widened[i]);
            Assert.Equal((ushort)i, BitConverter.HalfToUInt16Bits(result[i]));
        }
    }

    public static TheoryData<DType, DType> Pairs()
    {
        var data = new TheoryData<DType, DType>();
        foreach (var s in Enum.GetValues<DType>())
            foreach (var d in Enum.GetValues<DType>()) data.Add(s, d);
        return data;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void CastMatchesReferenceOnStridedInputs(DType from, DType to)
    {
        // Values in [0, 100) with fractions (whole numbers for integer sources); 35k elements cross the thread threshold.
        using var raw = TestData.Uniform(40, new Shape(523, 67), DType.F64, 0, 100);
        using var src = from.IsFloat() ? raw.To(from) : raw.To(DType.I32).To(from);
        TestData.AssertMatchesReference(x => { using var t = x[0].Transpose(0, 1); return t.To(to); }, [src], atol: 0, rtol: 0);
        // and a sliced view with a step
        TestData.AssertMatchesReference(x => { using var t = Ops.Slice(x[0], 1, 1, 67, 3); return t.To(to); }, [src], atol: 0, rtol: 0);
    }

    [Theory]
    [InlineData(DType.I32)]
    [InlineData(DType.I64)]
    public void FloatToIntegerTruncatesTowardZero(DType to)
    {
        using var f = Tensor.FromArray(Enumerable.Range(0, 40).Select(i => (i % 2 == 0 ? -1 : 1) * (i + 0.75f)).ToArray());
        using var r = f.To(to);
        var expected = Enumerable.Range(0, 40).Select(i => (double)((i % 2 == 0 ? -1 : 1) * i)).ToArray();
        Assert.Equal(expected, r.ToDoubleArray());
    }
}
