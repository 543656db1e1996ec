using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>The GPU's 4-bit kernels (dequantize, matrix-vector, tiled GEMM with W decoded in the tile load) against
/// the reference backend, for NF4 and FP4, plain and double-quantized scales, both product directions and a bias.</summary>
public class Quant4BitTests
{
    /// <summary>A host weight quantized from uniform values; small nested blocks so that double quantization uses
    /// several nested scales even in these tiny matrices.</summary>
    private static PackedWeight4Bit HostWeight(int seed, int rows, int cols, FourBitType type, int blockSize, bool doubleQuant)
    {
        var rng = new Random(seed);
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        return Blockwise4Bit.Quantize(w, rows, cols, type, blockSize, doubleQuant, nestedBlockSize: 2);
    }

    public static TheoryData<int, int, int, int, bool, FourBitType> Shapes() => new()
    {
        // m, rows, cols, blockSize, doubleQuant, type
        { 1, 21, 45, 64, false, FourBitType.Nf4 },    // batch 1; odd cols: every other row starts in a low nibble
        { 3, 20, 96, 64, true, FourBitType.Fp4 },     // matrix-vector, blocks spanning rows
        { 8, 13, 64, 32, true, FourBitType.Nf4 },     // the largest matrix-vector batch
        { 9, 17, 70, 64, false, FourBitType.Fp4 },    // the smallest tiled batch
        { 21, 37, 33, 64, true, FourBitType.Nf4 },    // several tiles in both directions, ragged edges
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardProductMatchesTheReference(int m, int rows, int cols, int blockSize, bool doubleQuant, FourBitType type)
    {
        using var w = HostWeight(m + rows, rows, cols, type, blockSize, doubleQuant);
        using var x = TestData.Uniform(1, new Shape(m, cols), DType.F32);
        using var bias = TestData.Uniform(2, new Shape(rows), DType.F32);
        AssertProduct(w, x, bias, transW: true, m, rows);
        AssertProduct(w, x, null, transW: true, m, rows);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void InputGradientProductMatchesTheReference(int m, int rows, int cols, int blockSize, bool doubleQuant, FourBitType type)
    {
        using var w = HostWeight(m * rows, rows, cols, type, blockSize, doubleQuant);
        using var g = TestData.Uniform(3, new Shape(m, rows), DType.F32);
        AssertProduct(w, g, null, transW: false, m, cols);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void DequantizeMatchesTheReference(int m, int rows, int cols, int blockSize, bool doubleQuant, FourBitType type)
    {
        using var w = HostWeight(m + cols, rows, cols, type, blockSize, doubleQuant);
        using var expected = Tensor.Empty(new Shape(rows, cols), DType.F32, Device.CpuReference);
        expected.Backend.Dequantize4Bit(w, expected);
        using var dw = w.To(GpuParity.Device);
        using var actual = Ops.Dequantize4Bit(dw);
        Assert.Equal(GpuParity.Device, actual.Device);
        TestData.AssertClose(expected.ToDoubleArray(), actual.ToDoubleArray(), 0, 1e-6);
    }

    /// <summary>y = x · op(W) (+ bias) on the reference backend (host weight) and on the GPU (device copy).</summary>
    private static void AssertProduct(PackedWeight4Bit w, Tensor x, Tensor? bias, bool transW, int m, int n)
    {
        using var xr = x.To(Device.CpuReference);
        using var br = bias?.To(Device.CpuReference);
        using var expected = Tensor.Empty(new Shape(m, n), DType.F32, Device.CpuReference);
        expected.Backend.MatMul4Bit(xr, w, expected, transW, br);

        using var dw = w.To(GpuParity.Device);
        using var xd = x.To(GpuParity.Device);
        using var bd = bias?.To(GpuParity.Device);
        using var actual = Tensor.Empty(new Shape(m, n), DType.F32, GpuParity.Device);
        actual.Backend.MatMul4Bit(xd, dw, actual, transW, bd);
        TestData.AssertClose(expected.ToDoubleArray(), actual.ToDoubleArray(), 1e-5, 1e-5, $"transW={transW} bias={bias is not null}");
    }

    [Fact]
    public void DequantizesHandPickedCodesExactly()
    {
        // codebook[i] = i - 8; two blocks of 2: plain scales (2, 0.5), or double-quantized scales
        // nestedCode[q] · nestedAbsmax + offset = 3·0.25·2 + 0.5 = 2 and 5·0.25·2 + 0.5 = 3.
        var codebook = Enumerable.Range(0, 16).Select(i => (float)(i - 8)).ToArray();
        byte[] packed = [0x9A, 0x3F];   // indices 9, 10 | 3, 15 -> codes 1, 2 | -5, 7
        using var plain = new PackedWeight4Bit(2, 2, 2, Tensor.FromArray(packed), Tensor.FromArray(codebook), Tensor.FromArray(new float[] { 2f, 0.5f }));
        using var nested = new PackedWeight4Bit(2, 2, 2, Tensor.FromArray(packed), Tensor.FromArray(codebook),
            Tensor.FromArray(new byte[] { 3, 5 }), Tensor.FromArray(new float[] { 2f }),
            Tensor.FromArray(Enumerable.Range(0, 256).Select(i => i * 0.25f).ToArray()), 256, 0.5f);
        foreach (var (w, expected) in new[] { (plain, new float[] { 2, 4, -2.5f, 3.5f }), (nested, new float[] { 2, 4, -15, 21 }) })
        {
            using var dw = w.To(GpuParity.Device);
            using var y = Ops.Dequantize4Bit(dw);
            Assert.Equal(expected, y.ToArray<float>());
            // y = x · Wᵀ + b with x = (1, -1): (2 - 4, -2.5 - 3.5) + (10, 20) for the plain scales
            using var x = Tensor.FromArray(new float[] { 1, -1 }, 1, 2).To(GpuParity.Device);
            using var b = Tensor.FromArray(new float[] { 10, 20 }).To(GpuParity.Device);
            using var p = Ops.Linear4Bit(x, dw, b);
            Assert.Equal(new[] { expected[0] - expected[1] + 10, expected[2] - expected[3] + 20 }, p.ToArray<float>());
        }
    }

    [Fact]
    public void RefusesAWeightLeftOnTheHost()
    {
        using var w = HostWeight(1, 4, 64, FourBitType.Nf4, 64, false);
        using var x = Tensor.Zeros(new Shape(2, 64), DType.F32, GpuParity.Device);
        using var y = Tensor.Empty(new Shape(2, 4), DType.F32, GpuParity.Device);
        var e = Assert.Throws<ArgumentException>(() => GpuParity.Backend.MatMul4Bit(x, w, y, transW: true));
        Assert.Contains("PackedWeight4Bit.To", e.Message);
    }

    [Fact]
    public void Linear4BitLayerMovesWithItsModuleAndGivesTheCpuGradients()
    {
        // (2, 3, 40) -> (2, 3, 24): 6 rows, the matrix-vector path forward and backward
        using var x = TestData.Uniform(4, new Shape(2, 3, 40), DType.F32);
        using var linear = new PeftEngine.Nn.Linear(40, 24, generator: new Generator(5));
        double[][] Run(Device device)
        {
            using var layer = Linear4Bit.FromLinear(linear, FourBitType.Nf4, 64, doubleQuant: true);
            layer.To(device);
            Assert.Equal(device, layer.Weight4Bit.Device);
            using var xd = x.To(device);
            using var leaf = xd.Alias().RequireGrad();
            using var y = layer.Forward(leaf);
            using var sq = Ops.Mul(y, y);
            using var loss = Ops.Sum(sq);
            loss.Backward();
            return [y.ToDoubleArray(), leaf.Grad!.ToDoubleArray()];
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(GpuParity.Device);
        TestData.AssertClose(cpu[0], gpu[0], 1e-5, 1e-5, "output");
        TestData.AssertClose(cpu[1], gpu[1], 1e-5, 1e-5, "input gradient");
    }
}
