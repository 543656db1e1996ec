using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>The fast 4-bit kernels against the reference ones, on every path (fused rows, GEMM panels) and layout.</summary>
public class MatMul4BitKernelTests
{
    private static PackedWeight4Bit RandomWeight(int seed, int rows, int cols, FourBitType type, int blockSize, bool doubleQuant)
    {
        var rng = new Random(seed);
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        return Blockwise4Bit.Quantize(w, rows, cols, type, blockSize, doubleQuant);
    }

    public static TheoryData<int, int, int, int, bool, bool> Shapes() => new()
    {
        // m, rows, cols, blockSize, doubleQuant, bias
        { 1, 37, 128, 64, false, true },      // batch-1 generation, rows not a multiple of anything
        { 3, 20, 96, 64, true, false },       // blocks that span rows
        { 8, 65, 256, 128, true, true },      // the largest fused batch
        { 9, 40, 160, 32, false, true },      // the smallest GEMM-panel batch
        { 33, 70, 192, 64, true, false },     // several rows of x, rows not a multiple of the panel height
        { 2, 13, 33, 32, false, true },       // odd column count: rows start in the middle of a byte
        { 17, 11, 45, 32, true, true },
        { 4, 300, 512, 64, false, false },    // large enough to run on several threads
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardMatchesTheReference(int m, int rows, int cols, int blockSize, bool doubleQuant, bool withBias)
    {
        using var w = RandomWeight(m + rows, rows, cols, FourBitType.Nf4, blockSize, doubleQuant);
        using var x = TestData.Uniform(1, new Shape(m, cols), DType.F32);
        using var bias = withBias ? TestData.Uniform(2, new Shape(rows), DType.F32) : null;
        using var fast = Tensor.Empty(new Shape(m, rows), DType.F32);
        fast.Backend.MatMul4Bit(x, w, fast, transW: true, bias);
        using var xr = x.To(Device.CpuReference);
        using var br = bias?.To(Device.CpuReference);
        using var reference = Tensor.Empty(new Shape(m, rows), DType.F32, Device.CpuReference);
        reference.Backend.MatMul4Bit(xr, w, reference, transW: true, br);
        TestData.AssertClose(reference, fast, 1e-5, 1e-5);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void InputGradientProductMatchesTheReference(int m, int rows, int cols, int blockSize, bool doubleQuant, bool withBias)
    {
        _ = withBias;
        using var w = RandomWeight(m * rows, rows, cols, FourBitType.Fp4, blockSize, doubleQuant);
        using var g = TestData.Uniform(3, new Shape(m, rows), DType.F32);
        using var fast = Tensor.Empty(new Shape(m, cols), DType.F32);
        fast.Backend.MatMul4Bit(g, w, fast, transW: false);
        using var gr = g.To(Device.CpuReference);
        using var reference = Tensor.Empty(new Shape(m, cols), DType.F32, Device.CpuReference);
        reference.Backend.MatMul4Bit(gr, w, reference, transW: false);
        TestData.AssertClose(reference, fast, 1e-5, 1e-5);
    }

    [Fact]
    public void ResultsDoNotDependOnTheThreadCount()
    {
        using var w = RandomWeight(9, 256, 1024, FourBitType.Nf4, 64, true);
        using var x = TestData.Uniform(4, new Shape(24, 1024), DType.F32);
        float[] Run(int threads, bool transW, Tensor input)
        {
            int saved = PeftEngine.Cpu.CpuParallel.Threads;
            PeftEngine.Cpu.CpuParallel.Threads = threads;
            try
            {
                using var y = Tensor.Empty(new Shape(input.Shape[0], transW ? 256 : 1024), DType.F32);
                y.Backend.MatMul4Bit(input, w, y, transW);
                return y.ToArray<float>();
            }
            finally { PeftEngine.Cpu.CpuParallel.Threads = saved; }
        }
        Assert.Equal(Run(1, true, x), Run(2, true, x));
        using var g = TestData.Uniform(5, new Shape(5, 256), DType.F32);
        Assert.Equal(Run(1, false, g), Run(2, false, g));
    }

    [Fact]
    public void RejectsMismatchedShapes()
    {
        using var w = RandomWeight(1, 8, 64, FourBitType.Nf4, 64, false);
        using var x = Tensor.Zeros(new Shape(2, 63), DType.F32);
        using var y = Tensor.Empty(new Shape(2, 8), DType.F32);
        var e = Assert.Throws<ArgumentException>(() => y.Backend.MatMul4Bit(x, w, y, transW: true));
        Assert.Contains("(8, 64)", e.Message);
    }
}
