using PeftEngine.Quant;

namespace PeftEngine.Tests;

public class DynamicMapTests
{
    [Fact]
    public void EqualsTheTableBitsandbytesBuilds()
    {
        var expected = BnbFixture.Instance.DynamicMap;
        Assert.Equal(256, expected.Length);
        // PyTorch's float32 linspace rounds differently with its vector width, so the tables agree to the last bit or so.
        TestData.AssertClose(expected.Select(v => (double)v).ToArray(), DynamicMap.Values.ToArray().Select(v => (double)v).ToArray(), 1e-12, 2.5e-7);
        Assert.Equal(0f, DynamicMap.Values[127]);
        Assert.Equal(1f, DynamicMap.Values[255]);
    }

    [Fact]
    public void NearestPicksTheClosestEntry()
    {
        var code = DynamicMap.Values;
        var rng = new Random(5);
        for (int trial = 0; trial < 2000; trial++)
        {
            float x = (float)(rng.NextDouble() * 2 - 1) * (trial % 3 == 0 ? 1e-3f : 1f);
            int best = 0;
            for (int i = 1; i < code.Length; i++)
                if (Math.Abs(code[i] - x) < Math.Abs(code[best] - x)) best = i;
            Assert.Equal(best, DynamicMap.Nearest(x));
        }
    }

    [Fact]
    public void Blockwise8BitEqualsTheReference()
    {
        var f = BnbFixture.Instance;
        var (indices, absmax) = Blockwise8Bit.Quantize(f.Blockwise8Values, f.Blockwise8BlockSize);
        Assert.Equal(f.Blockwise8Absmax, absmax);
        Assert.Equal(f.Blockwise8Indices, indices);
        var back = Blockwise8Bit.Dequantize(indices, absmax, f.Blockwise8BlockSize);
        for (int i = 0; i < back.Length; i++)
            Assert.True(Math.Abs(back[i] - f.Blockwise8Values[i]) <= 0.02 * absmax[i / f.Blockwise8BlockSize], $"value {i}");
    }

    [Fact]
    public void RowwiseInt8HandComputed()
    {
        // Row 0: max 2 -> 127/2 per unit: 2 -> 127, -1 -> -63.5 -> -64 (half away from zero), 0.5 -> 31.75 -> 32.
        // Row 1: all zero -> zeros with scale 0.
        float[] w = [2f, -1f, 0.5f, 0f, 0f, 0f];
        var (q, s) = RowwiseInt8.Quantize(w, 2, 3);
        Assert.Equal(new sbyte[] { 127, -64, 32, 0, 0, 0 }, q);
        Assert.Equal(new[] { 2f, 0f }, s);
        var back = RowwiseInt8.Dequantize(q, s, 3);
        Assert.Equal(2f, back[0]);
        Assert.Equal(-64 * 2f / 127f, back[1], 6);
    }
}
