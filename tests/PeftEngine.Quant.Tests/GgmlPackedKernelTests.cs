using System.Buffers.Binary;
using PeftEngine.IO.Gguf;
using PeftEngine.Quant;
using Xunit.Abstractions;

namespace PeftEngine.Tests;

/// <summary>Products on packed Q8_0 / Q4_0 / Q4_K blocks: every SIMD path against the scalar definition, and the
/// integer (int8-activation) and tiled paths against the F32 product with the dequantized weight.</summary>
public class GgmlPackedKernelTests(ITestOutputHelper output)
{
    /// <summary>Random but valid blocks: random code bytes (every bit pattern, incl. −128 for Q8_0) and small positive
    /// float16 scales, so that dequantized weights are of order 0.1 – 1.</summary>
    internal static GgmlPackedWeight RandomBlocks(int seed, GgmlType type, int rows, int cols)
    {
        var rng = new Random(seed);
        var (size, bytes) = GgmlPackedWeight.Geometry(type);
        var data = new byte[rows * cols / size * bytes];
        rng.NextBytes(data);
        for (int at = 0; at < data.Length; at += bytes)
        {
            float d = type switch { GgmlType.Q8_0 => 0.002f, GgmlType.Q4_0 => 0.03f, _ => 0.002f } * (float)(0.5 + rng.NextDouble());
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(at), BitConverter.HalfToUInt16Bits((Half)d));
            if (type == GgmlType.Q4_K)   // dmin
                BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(at + 2), BitConverter.HalfToUInt16Bits((Half)(0.004f * rng.NextDouble())));
        }
        return GgmlPackedWeight.FromBlocks(type, rows, cols, data);
    }

    public static TheoryData<GgmlType, int, int, int> Shapes() => new()
    {
        // type, m, rows, cols
        { GgmlType.Q8_0, 1, 37, 224 },
        { GgmlType.Q8_0, 3, 19, 96 },
        { GgmlType.Q4_0, 1, 41, 160 },
        { GgmlType.Q4_0, 8, 23, 512 },
        { GgmlType.Q4_K, 1, 29, 768 },
        { GgmlType.Q4_K, 5, 17, 256 },
        { GgmlType.Q4_K, 2, 150, 512 },   // crosses the parallel threshold
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public unsafe void EveryPathEqualsTheScalarDefinition(GgmlType type, int m, int rows, int cols)
    {
        using var w = RandomBlocks(rows * 7 + cols, type, rows, cols);
        using var x = TestData.Uniform(m + 3, new Shape(m, cols), DType.F32);
        var a = ActivationBlocks.Quantize(x.ToFloatArray(), m, cols, ActivationBlocks.ScaleBlockFor(type));
        var fast = new float[m * rows];
        GgmlPackedProducts.MatVec(x.ToFloatArray(), m, w, fast);
        int scalesPerRow = cols / a.ScaleBlock, sumsPerRow = cols / ActivationBlocks.SumBlock;
        fixed (sbyte* q = a.Codes)
        fixed (float* s = a.Scales)
        fixed (int* su = a.Sums)
            for (int r = 0; r < rows; r++)
                for (int i = 0; i < m; i++)
                {
                    float reference = GgmlBlockDotReference.Dot(w, r, a, i);
                    byte* row = w.Data + (long)r * w.RowBytes;
                    sbyte* qi = q + i * cols;
                    float* si = s + i * scalesPerRow;
                    int* sui = su + i * sumsPerRow;
                    float Path(GgmlDotPath p) => GgmlBlockDot.Dot(type, row, qi, si, sui, cols, p);
                    // the scalar path adds the block results in the same order: equal to the last bit
                    Assert.Equal(reference, Path(GgmlDotPath.Scalar));
                    // the SIMD paths compute the same integers and only reorder the F32 sum of the block results
                    double bound = 1e-5 * (1 + AbsBlockSum(w, r, a, i));
                    Assert.InRange(Path(GgmlDotPath.Avx2), reference - bound, reference + bound);
                    Assert.InRange(Path(GgmlDotPath.AvxVnni), reference - bound, reference + bound);
                    Assert.InRange(fast[i * rows + r], reference - bound, reference + bound);
                }
    }

    /// <summary>Σ |w_j| · |d_a q_j|: the magnitude that bounds the F32 reassociation error.</summary>
    private static double AbsBlockSum(GgmlPackedWeight w, int r, ActivationBlocks a, int i)
    {
        var wr = new float[w.Cols];
        w.DequantizeRows(r, 1, wr);
        double total = 0;
        for (int j = 0; j < w.Cols; j++)
            total += Math.Abs(wr[j]) * Math.Abs(a.Codes[i * w.Cols + j] * a.Scales[(i * w.Cols + j) / a.ScaleBlock]);
        return total;
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 1, 64, 512)]
    [InlineData(GgmlType.Q4_0, 2, 64, 512)]
    [InlineData(GgmlType.Q4_K, 1, 64, 512)]
    [InlineData(GgmlType.Q4_0, 11, 70, 320)]   // more than MatVecMaxRows rows: the tiled F32 path
    [InlineData(GgmlType.Q4_K, 16, 33, 256)]
    public void ForwardIsCloseToTheDequantizedF32Product(GgmlType type, int m, int rows, int cols)
    {
        using var w = RandomBlocks(m * 13 + rows, type, rows, cols);
        using var x = TestData.Uniform(m, new Shape(m, cols), DType.F32);
        using var bias = TestData.Uniform(m + 1, new Shape(rows), DType.F32);
        using var layer = new GgufLinear(GgmlPackedWeight.FromBlocks(type, rows, cols, Bytes(w)), bias);
        using var y = layer.Forward(x);
        using var wf = w.Dequantize();
        using var expected = Ops.Linear(x, wf, bias);
        double maxErr = 0, maxRef = 0;
        var (e, got) = (expected.ToFloatArray(), y.ToFloatArray());
        for (int i = 0; i < e.Length; i++) { maxErr = Math.Max(maxErr, Math.Abs(e[i] - got[i])); maxRef = Math.Max(maxRef, Math.Abs(e[i])); }
        output.WriteLine($"{type} m={m} ({rows}x{cols}): max |y - y_f32| = {maxErr:E2} (max |y_f32| = {maxRef:F3})");
        // int8 activations carry a relative rounding error of at most 1/254 per value; the tiled path is plain F32
        double tolerance = m <= GgmlPackedProducts.MatVecMaxRows ? 0.02 * maxRef : 1e-5 * (1 + maxRef);
        Assert.True(maxErr <= tolerance, $"max error {maxErr} above {tolerance}");
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 3, 40, 96)]
    [InlineData(GgmlType.Q4_0, 9, 1100, 1024)]   // two tiles of W (TileElements = 2^20), several threads
    public void InputGradientEqualsTheDequantizedLinearGradient(GgmlType type, int m, int rows, int cols)
    {
        using var w = RandomBlocks(m + rows + cols, type, rows, cols);
        using var wf = w.Dequantize();
        using var x1 = TestData.Uniform(5, new Shape(2, m, cols), DType.F32).RequireGrad();
        using var x2 = TestData.Uniform(5, new Shape(2, m, cols), DType.F32).RequireGrad();
        using var bias1 = TestData.Uniform(6, new Shape(rows), DType.F32).RequireGrad();
        using var bias2 = TestData.Uniform(6, new Shape(rows), DType.F32).RequireGrad();
        using var g = TestData.Uniform(7, new Shape(2, m, rows), DType.F32);
        using (var y = GgufLinearOp.Forward(x1, w, bias1)) using (var l = Ops.Sum(Ops.Mul(y, g))) l.Backward();
        using (var y = Ops.Linear(x2, wf, bias2)) using (var l = Ops.Sum(Ops.Mul(y, g))) l.Backward();
        TestData.AssertClose(x2.Grad!, x1.Grad!, atol: 1e-5, rtol: 1e-4);
        TestData.AssertClose(bias2.Grad!, bias1.Grad!, atol: 1e-5, rtol: 1e-5);
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, 3)]    // integer dot products
    [InlineData(GgmlType.Q8_0, 12)]   // dequantized tiles
    public void ResultsDoNotDependOnTheThreadCount(GgmlType type, int m)
    {
        using var w = RandomBlocks(4, type, 1100, 1024);
        using var x = TestData.Uniform(8, new Shape(m, 1024), DType.F32);
        using var g = TestData.Uniform(9, new Shape(m, 1100), DType.F32);
        float[] Run(int threads, bool gradient)
        {
            int saved = PeftEngine.Cpu.CpuParallel.Threads;
            try
            {
                PeftEngine.Cpu.CpuParallel.Threads = threads;
                if (!gradient) { using var y = GgufLinearOp.Forward(x, w); return y.ToFloatArray(); }
                var dx = new float[m * 1024];
                GgmlPackedProducts.InputGradient(g, w, dx);
                return dx;
            }
            finally { PeftEngine.Cpu.CpuParallel.Threads = saved; }
        }
        Assert.Equal(Run(1, false), Run(2, false));
        Assert.Equal(Run(1, true), Run(2, true));
    }

    [Fact]
    public void PackedWeightHoldsExactlyTheBlockBytes()
    {
        using var q4 = RandomBlocks(1, GgmlType.Q4_0, 48, 4096);
        using var q8 = RandomBlocks(1, GgmlType.Q8_0, 48, 4096);
        using var qk = RandomBlocks(1, GgmlType.Q4_K, 48, 4096);
        Assert.Equal(48L * 4096 / 32 * 18, q4.ByteCount);   // 0.5625 bytes per weight
        Assert.Equal(48L * 4096 / 32 * 34, q8.ByteCount);   // 1.0625
        Assert.Equal(48L * 4096 / 256 * 144, qk.ByteCount); // 0.5625
    }

    [Fact]
    public void GatherRowsMovesWholeRows()
    {
        using var w = RandomBlocks(3, GgmlType.Q4_K, 6, 512);
        using var p = w.GatherRows([5, 0, 3, 1, 2, 4]);
        Assert.Equal(Bytes(w).AsSpan(5 * w.RowBytes, w.RowBytes).ToArray(), p.RowBlocks(0).ToArray());
        Assert.Equal(Bytes(w).AsSpan(2 * w.RowBytes, w.RowBytes).ToArray(), p.RowBlocks(4).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => w.GatherRows([0, 1, 2, 3, 4, 6]));
    }

    [Fact]
    public void BadInputsNameTheProblem()
    {
        var e1 = Assert.Throws<ArgumentException>(() => GgmlPackedWeight.FromBlocks(GgmlType.Q4_0, 2, 64, new byte[71]));
        Assert.Contains("72 bytes", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => GgmlPackedWeight.FromBlocks(GgmlType.Q4_K, 2, 200, new byte[288]));
        Assert.Contains("multiple of 256", e2.Message);
        var e3 = Assert.Throws<NotSupportedException>(() => GgmlPackedWeight.Geometry(GgmlType.Q5_K));
        Assert.Contains("Q5_K", e3.Message);
        using var layer = new GgufLinear(RandomBlocks(2, GgmlType.Q4_K, 4, 256));
        using var x = TestData.Uniform(1, new Shape(3, 128), DType.F32);
        var e4 = Assert.Throws<ArgumentException>(() => layer.Forward(x));
        Assert.Contains("256 features", e4.Message);
        using var w = layer.Dequantize();
        var e5 = Assert.Throws<NotSupportedException>(() => layer.Requantize(w));
        Assert.Contains("Q4_K", e5.Message);
    }

    [Fact]
    public void RequantizingTheDequantizedQ4_0WeightGivesTheSameProducts()
    {
        // Q4_0 blocks made by ggml's quantizer: dequantize -> quantize reproduces the codes, so the merge path with a
        // zero update changes nothing
        using var src = TestData.Uniform(9, new Shape(8, 128), DType.F32);
        using var layer = new GgufLinear(GgmlPackedWeight.Quantize(src, GgmlType.Q4_0));
        var before = Bytes(layer.Weight);
        using var wf = layer.Dequantize();
        layer.Requantize(wf);
        Assert.Equal(before, Bytes(layer.Weight));
    }

    private static byte[] Bytes(GgmlPackedWeight w)
    {
        var all = new byte[w.ByteCount];
        for (int r = 0; r < w.Rows; r++) w.RowBlocks(r).CopyTo(all.AsSpan(r * w.RowBytes));
        return all;
    }
}
