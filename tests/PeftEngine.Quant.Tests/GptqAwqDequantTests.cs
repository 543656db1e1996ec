using PeftEngine.Quant;

namespace PeftEngine.Tests;

public class GptqAwqDequantTests
{
    private static GptqAwqConfig Gptq(int bits, int group, string format = "gptq") =>
        new() { QuantMethod = "gptq", Bits = bits, GroupSize = group, CheckpointFormat = format };

    private static GptqAwqConfig Awq(int group) => new() { QuantMethod = "awq", Bits = 4, GroupSize = group };

    private static Tensor Dequantize(GptqAwqFixture.Case c, bool withGIdx = true, DequantizedLayout layout = DequantizedLayout.OutIn)
    {
        using var file = GptqAwqFixture.OpenMatrices();
        using var qweight = file.Load(c.Name + ".qweight");
        using var qzeros = file.Load(c.Name + ".qzeros");
        using var scales = file.Load(c.Name + ".scales");
        if (!c.Config.IsGptq) return AwqDequantizer.Dequantize(c.Name, qweight, qzeros, scales, c.Config, layout);
        using var gIdx = withGIdx ? file.Load(c.Name + ".g_idx") : null;
        return GptqDequantizer.Dequantize(c.Name, qweight, qzeros, scales, gIdx, c.Config, layout);
    }

    private static float[] Expected(string name)
    {
        using var file = GptqAwqFixture.OpenMatrices();
        using var t = file.Load(name + ".expected");
        return t.ToArray<float>();
    }

    [Theory]
    [MemberData(nameof(GptqAwqFixture.CaseNames), MemberType = typeof(GptqAwqFixture))]
    public void DequantizesTheFixtureExactly(string name)
    {
        var c = GptqAwqFixture.Cases().Single(x => x.Name == name);
        using var w = Dequantize(c);
        Assert.Equal(new Shape(c.Out, c.In), w.Shape);
        Assert.Equal(DType.F32, w.DType);
        // Scales are float16 and |q - zero| < 512, so every product is exact in float32.
        Assert.Equal(Expected(name), w.ToArray<float>());
    }

    [Theory]
    [InlineData("gptq_4bit_v1_sym")]
    [InlineData("awq_4bit_g32")]
    public void TheInOutLayoutIsTheTranspose(string name)
    {
        var c = GptqAwqFixture.Cases().Single(x => x.Name == name);
        using var outIn = Dequantize(c);
        using var inOut = Dequantize(c, layout: DequantizedLayout.InOut);
        Assert.Equal(new Shape(c.In, c.Out), inOut.Shape);
        using var t = Ops.Transpose(outIn, 0, 1);
        using var tc = Ops.Contiguous(t);
        Assert.Equal(tc.ToArray<float>(), inOut.ToArray<float>());
    }

    [Fact]
    public void WithoutGIdxGroupsAreConsecutive()
    {
        var plain = GptqAwqFixture.Cases().Single(x => x.Name == "gptq_4bit_v1_sym");
        using var w = Dequantize(plain, withGIdx: false);
        Assert.Equal(Expected(plain.Name), w.ToArray<float>());

        // With act-order the stored g_idx is a permutation: ignoring it must give different weights.
        var actOrder = GptqAwqFixture.Cases().Single(x => x.Name == "gptq_4bit_v1_asym_actorder");
        using var wrong = Dequantize(actOrder, withGIdx: false);
        Assert.NotEqual(Expected(actOrder.Name), wrong.ToArray<float>());
    }

    [Fact]
    public void LargeLayerCrossesTheParallelThresholdAndMatchesTheSmallPath()
    {
        // 256 inputs x 256 outputs = 65536 weights: above CpuParallel.MinParallelWork. Every column n holds the same
        // integers q[k] = k % 16 with zero 8 (v1 stores 7) and scale 1/(n+1), so W[n, k] = (k % 16 - 8) / (n + 1).
        const int k = 256, n = 256;
        var words = new int[k / 8 * n];
        Array.Fill(words, 0x76543210);
        for (int r = 1; r < k / 8; r += 2)
            for (int c = 0; c < n; c++) words[r * n + c] = unchecked((int)0xFEDCBA98);
        var zeros = new int[1 * (n / 8)];
        Array.Fill(zeros, 0x77777777);
        var scales = new float[n];
        for (int c = 0; c < n; c++) scales[c] = 1f / (c + 1);
        using var qw = Tensor.FromArray(words, k / 8, n);
        using var qz = Tensor.FromArray(zeros, 1, n / 8);
        using var s = Tensor.FromArray(scales, 1, n);
        using var w = GptqDequantizer.Dequantize("big", qw, qz, s, null, Gptq(4, -1));
        var got = w.ToArray<float>();
        for (int c = 0; c < n; c++)
            for (int i = 0; i < k; i++)
                Assert.Equal(scales[c] * (i % 16 - 8), got[c * k + i]);
    }

    [Fact]
    public void HandComputedGptq4BitBlock()
    {
        // One packed row holds inputs 0..7. Column 0: q = 0..7; column 1: q = 8..15 (the word's top bit is set).
        var words = new int[8];
        Array.Fill(words, 0x76543210);
        words[1] = unchecked((int)0xFEDCBA98);
        // Stored zeros (v1: zero - 1): column 0 -> 7 (zero 8), column 1 -> 0 (zero 1), the rest 7.
        using var qw = Tensor.FromArray(words, 1, 8);
        using var qz = Tensor.FromArray(new[] { 0x77777707 }, 1, 1);
        using var s = Tensor.FromArray(new float[] { 0.5f, 0.25f, 1, 1, 1, 1, 1, 1 }, 1, 8);
        using var v1 = GptqDequantizer.Dequantize("hand", qw, qz, s, null, Gptq(4, 8));
        var w = v1.ToArray<float>();   // (out 8, in 8)
        Assert.Equal(new float[] { -4, -3.5f, -3, -2.5f, -2, -1.5f, -1, -0.5f }, w[..8]);
        Assert.Equal(new float[] { 1.75f, 2, 2.25f, 2.5f, 2.75f, 3, 3.25f, 3.5f }, w[8..16]);
        Assert.Equal(new float[] { -8, -7, -6, -5, -4, -3, -2, -1 }, w[16..24]);

        // gptq_v2 stores the zeros themselves: column 0 -> 7, column 1 -> 0.
        using var v2 = GptqDequantizer.Dequantize("hand", qw, qz, s, null, Gptq(4, 8, "gptq_v2"));
        var w2 = v2.ToArray<float>();
        Assert.Equal(new float[] { -3.5f, -3, -2.5f, -2, -1.5f, -1, -0.5f, 0 }, w2[..8]);
        Assert.Equal(new float[] { 2, 2.25f, 2.5f, 2.75f, 3, 3.25f, 3.5f, 3.75f }, w2[8..16]);
    }

    [Fact]
    public void HandComputedActOrderGroups()
    {
        // Two groups of 4 inputs; g_idx interleaves them. Group 0 has scale 1, group 1 scale 2; every zero is 8.
        var words = new int[8];
        Array.Fill(words, 0x76543210);   // q[k, n] = k
        using var qw = Tensor.FromArray(words, 1, 8);
        using var qz = Tensor.FromArray(new[] { 0x77777777, 0x77777777 }, 2, 1);
        var scales = new float[16];
        Array.Fill(scales, 1f, 0, 8);
        Array.Fill(scales, 2f, 8, 8);
        using var s = Tensor.FromArray(scales, 2, 8);
        using var gIdx = Tensor.FromArray(new[] { 1, 0, 1, 0, 0, 1, 0, 1 });
        using var w = GptqDequantizer.Dequantize("hand", qw, qz, s, gIdx, Gptq(4, 4));
        // W[0, k] = scale[g_idx[k]] * (k - 8)
        Assert.Equal(new float[] { -16, -7, -12, -5, -4, -6, -2, -2 }, w.ToArray<float>()[..8]);
    }

    [Fact]
    public void HandComputedGptq8BitAnd2BitBlocks()
    {
        // 8 bits: 4 inputs per word. Column 0: q = 1, 2, 3, 4; column 1: q = 0, 127, 128, 255; columns 2, 3: q = 0.
        using var qw8 = Tensor.FromArray(new[] { 0x04030201, unchecked((int)0xFF807F00), 0, 0 }, 1, 4);
        using var qz8 = Tensor.FromArray(new[] { 0x7F7F7F7F }, 1, 1);   // v1: every zero 128
        using var s8 = Tensor.FromArray(new float[] { 1, 1, 1, 1 }, 1, 4);
        using var w8 = GptqDequantizer.Dequantize("hand8", qw8, qz8, s8, null, Gptq(8, 4));
        Assert.Equal(new float[] { -127, -126, -125, -124, -128, -1, 0, 127, -128, -128, -128, -128, -128, -128, -128, -128 }, w8.ToArray<float>());

        // 2 bits: 16 inputs per word; each byte 0xE4 = 11 10 01 00 gives q[k] = k % 4. v1 zeros 1 -> 2.
        var words = new int[16];
        Array.Fill(words, unchecked((int)0xE4E4E4E4));
        using var qw2 = Tensor.FromArray(words, 1, 16);
        using var qz2 = Tensor.FromArray(new[] { 0x55555555 }, 1, 1);
        var ones = new float[16];
        Array.Fill(ones, 1f);
        using var s2 = Tensor.FromArray(ones, 1, 16);
        using var w2 = GptqDequantizer.Dequantize("hand2", qw2, qz2, s2, null, Gptq(2, 16));
        var row = Enumerable.Range(0, 16).Select(k => (float)(k % 4 - 2)).ToArray();
        Assert.Equal(row, w2.ToArray<float>()[..16]);
        Assert.Equal(row, w2.ToArray<float>()[240..]);
    }

    [Fact]
    public void HandComputedAwqBlockFollowsTheInterleave()
    {
        // Nibble i of a word holds column ORDER[i] = [0, 2, 4, 6, 1, 3, 5, 7][i].
        // Input 0: word 0x76543210 (nibble i = i) -> q[0, :] = 0, 4, 1, 5, 2, 6, 3, 7.
        // Input 1: word 0x01234567 (nibble i = 7 - i) -> q[1, :] = 7, 3, 6, 2, 5, 1, 4, 0.
        using var qw = Tensor.FromArray(new[] { 0x76543210, 0x01234567 }, 2, 1);
        // Zeros: nibble 0 = 3 (column 0), nibble 1 = 1 (column 2), the rest 0.
        using var qz = Tensor.FromArray(new[] { 0x00000013 }, 1, 1);
        var half = new float[8];
        Array.Fill(half, 0.5f);
        using var s = Tensor.FromArray(half, 1, 8);
        using var w = AwqDequantizer.Dequantize("hand", qw, qz, s, Awq(2), DequantizedLayout.InOut);
        Assert.Equal(new float[] { -1.5f, 2, 0, 2.5f, 1, 3, 1.5f, 3.5f, 2, 1.5f, 2.5f, 1, 2.5f, 0.5f, 2, 0 }, w.ToArray<float>());
    }
}
