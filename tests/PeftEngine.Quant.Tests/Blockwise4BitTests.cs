using PeftEngine.Quant;

namespace PeftEngine.Tests;

public class Blockwise4BitTests
{
    public static TheoryData<string> Cases() => new(BnbFixture.Instance.Cases.Select(c => c.Name));

    private static PackedWeight4Bit Quantize(BnbFixture.Case c) =>
        Blockwise4Bit.Quantize(c.Weight, c.Rows, c.Cols, c.QuantType == "nf4" ? FourBitType.Nf4 : FourBitType.Fp4, c.BlockSize, c.DoubleQuant);

    [Theory]
    [MemberData(nameof(Cases))]
    public void PackedIndicesAndScalesEqualTheReference(string name)
    {
        var c = BnbFixture.Instance.Get(name);
        using var w = Quantize(c);
        Assert.Equal(c.Packed, w.Packed.ToArray<byte>());
        if (!c.DoubleQuant)
        {
            Assert.Equal(c.Absmax, w.Absmax!.ToArray<float>());
            return;
        }
        Assert.True(w.IsDoubleQuantized);
        Assert.Equal(c.NestedOffset, w.NestedOffset, 6);   // torch sums float32 in its own order: last-bit differences allowed
        Assert.Equal(c.QuantizedAbsmax, w.QuantizedAbsmax!.ToArray<byte>());
        TestData.AssertClose(c.NestedAbsmax!.Select(v => (double)v).ToArray(), w.NestedAbsmax!.ToArray<float>().Select(v => (double)v).ToArray(), 1e-9, 1e-6);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DequantizationEqualsTheReferenceOnBothBackends(string name)
    {
        var c = BnbFixture.Instance.Get(name);
        using var w = Quantize(c);
        var expected = c.Dequantized.Select(v => (double)v).ToArray();
        using var fast = Ops.Dequantize4Bit(w);
        Assert.Equal(new Shape(c.Rows, c.Cols), fast.Shape);
        TestData.AssertClose(expected, fast.ToDoubleArray(), 1e-9, 1e-6, name);
        using var reference = Tensor.Empty(new Shape(c.Rows, c.Cols), DType.F32, Device.CpuReference);
        reference.Backend.Dequantize4Bit(w, reference);
        TestData.AssertClose(expected, reference.ToDoubleArray(), 1e-9, 1e-6, name);
    }

    [Fact]
    public void Nf4HandComputedBlock()
    {
        // One block of 4: absmax = 2; scaled values 1, -0.5, 0.1, 0 -> NF4 indices 15, 2 (-0.525 is nearer than -0.395),
        // 8 (0.0796) and 7 (0); packed high nibble first: 0xF2, 0x87.
        float[] w = [2f, -1f, 0.2f, 0f];
        using var q = Blockwise4Bit.Quantize(w, 1, 4, FourBitType.Nf4, blockSize: 32);
        Assert.Equal(new byte[] { 0xF2, 0x87 }, q.Packed.ToArray<byte>());
        Assert.Equal(new[] { 2f }, q.Absmax!.ToArray<float>());
        using var d = Ops.Dequantize4Bit(q);
        Assert.Equal(new[] { 2f, -0.5250730514526367f * 2f, 0.07958029955625534f * 2f, 0f }, d.ToArray<float>());
    }

    [Fact]
    public void Fp4HandComputedBlock()
    {
        // absmax 12: scaled 1 -> 0b011 (12/12); -0.5 -> sign + 0b101 (6/12) = 13; 0.2 -> 0b110 (2/12 = 0.167 is nearer
        // than 3/12 = 0.25); -0.001 -> sign + 0b000 = 8 (below 0.0026 rounds to zero, keeping the sign bit).
        float[] w = [12f, -6f, 2.4f, -0.012f];
        using var q = Blockwise4Bit.Quantize(w, 2, 2, FourBitType.Fp4, blockSize: 32);
        Assert.Equal(new byte[] { 0x3D, 0x68 }, q.Packed.ToArray<byte>());
    }

    [Fact]
    public void TiesGoToTheLowerCode()
    {
        float midpoint = (0.07958029955625534f + 0.16093020141124725f) / 2f;
        Assert.Equal(8, Codebooks.NearestNf4(0.1202552504837513f));
        Assert.Equal(9, Codebooks.NearestNf4(MathF.BitIncrement(0.1202552504837513f)));
        Assert.InRange(midpoint, 0.12025524f, 0.12025526f);
    }

    [Fact]
    public void DoubleQuantizationFitsTheMemoryBudget()
    {
        var rng = new Random(3);
        var w = Enumerable.Range(0, 256 * 512).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        using var plain = Blockwise4Bit.Quantize(w, 256, 512, FourBitType.Nf4, 64, doubleQuant: false);
        using var dq = Blockwise4Bit.Quantize(w, 256, 512, FourBitType.Nf4, 64, doubleQuant: true);
        double plainBytes = plain.ByteSize / (double)w.Length, dqBytes = dq.ByteSize / (double)w.Length;
        Assert.InRange(plainBytes, 0.5625, 0.5630);             // 4 bits + a float per 64 weights (+ a 64-byte codebook)
        // Half a byte per weight, a byte per block of 64, a float per 256 blocks, plus the two codebooks (16 and 256
        // floats) once per matrix: 0.5163 bytes per weight for large matrices.
        double expected = 0.5 + 1.0 / 64 + 4.0 / (64 * 256) + (16 + 256) * 4.0 / w.Length;
        Assert.Equal(expected, dqBytes, 9);
        // The scales lose a little precision, the weights hardly any more.
        using var a = Ops.Dequantize4Bit(plain);
        using var b = Ops.Dequantize4Bit(dq);
        var x = a.ToArray<float>();
        var y = b.ToArray<float>();
        double worst = x.Zip(y, (p, q) => Math.Abs(p - q)).Max();
        Assert.True(worst < 2e-3, $"double quantization moved a weight by {worst}");
    }

    [Fact]
    public void RejectsBadBlockSizesAndShapes()
    {
        var e = Assert.Throws<ArgumentException>(() => Blockwise4Bit.Quantize(new float[8], 2, 4, blockSize: 48));
        Assert.Contains("block size 48", e.Message);
        e = Assert.Throws<ArgumentException>(() => Blockwise4Bit.Quantize(new float[8], 3, 4));
        Assert.Contains("3x4", e.Message);
    }
}
