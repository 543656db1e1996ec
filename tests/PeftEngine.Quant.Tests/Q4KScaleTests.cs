using PeftEngine.IO.Gguf;
using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>Q4_K's packed 6-bit scales unpacked all at once equal ggml's one-at-a-time get_scale_min_k4, and the
/// SIMD Q4_K dot products built on them equal the scalar definition to the last bit.</summary>
public class Q4KScaleTests
{
    [Fact]
    public unsafe void WordWideUnpackingEqualsTheOneAtATimeDefinition()
    {
        var rng = new Random(5);
        var bytes = new byte[12];
        for (int trial = 0; trial < 5000; trial++)
        {
            if (trial == 0) Array.Fill(bytes, (byte)0xFF);       // every bit set
            else if (trial == 1) Array.Fill(bytes, (byte)0);
            else rng.NextBytes(bytes);
            ulong scales, mins;
            fixed (byte* b = bytes) Q4KScales.Unpack(b, out scales, out mins);
            for (int j = 0; j < 8; j++)
            {
                var (sc, m) = GgmlKQuants.ScaleMin(j, bytes);
                Assert.Equal(sc, (int)((scales >> (8 * j)) & 0xFF));
                Assert.Equal(m, (int)((mins >> (8 * j)) & 0xFF));
            }
        }
    }

    [Theory]
    [InlineData(GgmlDotPath.Avx2)]
    [InlineData(GgmlDotPath.AvxVnni)]
    public unsafe void SimdQ4KDotEqualsTheScalarDefinitionExactly(GgmlDotPath path)
    {
        const int rows = 24, cols = 1024, m = 3;
        using var w = GgmlPackedKernelTests.RandomBlocks(11, GgmlType.Q4_K, rows, cols);
        using var x = TestData.Uniform(12, new Shape(m, cols), DType.F32, -3, 3);
        var a = ActivationBlocks.Quantize(x.ToFloatArray(), m, cols, 256);
        fixed (sbyte* q = a.Codes)
        fixed (float* s = a.Scales)
        fixed (int* su = a.Sums)
            for (int r = 0; r < rows; r++)
                for (int i = 0; i < m; i++)
                {
                    float got = GgmlBlockDot.Dot(GgmlType.Q4_K, w.Data + (long)r * w.RowBytes, q + i * cols, s + i * cols / 256, su + i * cols / 32, cols, path);
                    Assert.Equal(GgmlBlockDotReference.Dot(w, r, a, i), got);
                }
    }
}
