using PeftEngine.Nn;

namespace PeftEngine.Tests;

/// <summary>Layers holding bf16/f16 parameters compute in f32: with an f32 input they give f32 outputs equal to
/// the same layer with the (already rounded) weights in f32, and the input still gets its gradient.</summary>
public class HalfPrecisionLayerTests
{
    /// <summary>Runs the layer with 16-bit parameters and again with the same values in f32.</summary>
    private static void AssertMatchesF32(Module layer, Func<Module, Tensor> run, DType half)
    {
        layer.To(half);
        foreach (var p in layer.Parameters()) p.RequiresGrad = false;    // a frozen 16-bit base
        using var yHalf = run(layer);
        Assert.Equal(DType.F32, yHalf.DType);
        layer.To(DType.F32);                                              // exact: 16-bit values are f32 values
        using var yFull = run(layer);
        TestData.AssertClose(yFull, yHalf, 1e-6, 1e-5);
    }

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    public void LinearConv1DAndNormsComputeInF32(DType half)
    {
        using var x = TestData.Uniform(1, new Shape(3, 5, 12), DType.F32);
        x.RequiresGrad = true;
        using (var linear = new Linear(12, 7, bias: true, generator: new Generator(2)))
            AssertMatchesF32(linear, m => m.Forward(x), half);
        using (var conv = new Conv1D(7, 12, generator: new Generator(3)))
        {
            using (GradMode.Disable()) Init.Normal(conv.Bias, 0, 1, new Generator(4));
            AssertMatchesF32(conv, m => m.Forward(x), half);
        }
        using (var ln = new LayerNorm(12))
        {
            using (GradMode.Disable()) { Init.Normal(ln.Weight!, 1, 0.3, new Generator(5)); Init.Normal(ln.Bias!, 0, 0.3, new Generator(6)); }
            AssertMatchesF32(ln, m => m.Forward(x), half);
        }
        using (var rms = new RmsNorm(12))
        {
            using (GradMode.Disable()) Init.Normal(rms.Weight, 1, 0.3, new Generator(7));
            AssertMatchesF32(rms, m => m.Forward(x), half);
        }
        using var ids = Tensor.FromArray(new long[] { 4, 0, 9, 4 }, 2, 2);
        using (var emb = new Embedding(10, 6, generator: new Generator(8)))
            AssertMatchesF32(emb, m => m.Forward(ids), half);
    }

    [Fact]
    public void TheInputGradientFlowsThroughA16BitLinearAndNorm()
    {
        using var x = TestData.Uniform(9, new Shape(4, 8), DType.F32);
        x.RequiresGrad = true;
        using var linear = new Linear(8, 8, generator: new Generator(1));
        using var norm = new RmsNorm(8);
        linear.To(DType.BF16);
        norm.To(DType.BF16);
        foreach (var p in linear.Parameters().Concat(norm.Parameters())) p.RequiresGrad = false;
        using var h = linear.Forward(x);
        using var y = norm.Forward(h);
        using var loss = Ops.Sum(y);
        Engine.Backward(loss);
        Assert.NotNull(x.Grad);
        Assert.Equal(DType.F32, x.Grad!.DType);
    }
}
