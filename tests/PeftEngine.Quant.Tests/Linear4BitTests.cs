using PeftEngine.Nn;
using PeftEngine.Quant;

namespace PeftEngine.Tests;

public class Linear4BitTests
{
    [Theory]
    [InlineData(2, false)]
    [InlineData(24, true)]
    public void ForwardAndInputGradientEqualAnF32LinearOnTheDequantizedWeight(int tokens, bool doubleQuant)
    {
        using var linear = new Linear(96, 40, bias: true, generator: new Generator(7));
        using var q = Linear4Bit.FromLinear(linear, FourBitType.Nf4, 64, doubleQuant);
        using var dense = q.Dequantize();                                     // (out, in) f32
        using var x0 = TestData.Uniform(11, new Shape(tokens / 2, 2, 96), DType.F32);
        using var x1 = x0.Alias().RequireGrad();
        using var x2 = x0.Alias().RequireGrad();

        using var y1 = q.Forward(x1);                                         // (T/2, 2, 40)
        using var y2 = Ops.Linear(x2, dense, linear.Bias!.Data);
        TestData.AssertClose(y2, y1, 1e-5, 1e-5);

        using var g = TestData.Uniform(12, y1.Shape, DType.F32);
        using (var s1 = Ops.Sum(Ops.Mul(y1, g))) s1.Backward();
        using (var s2 = Ops.Sum(Ops.Mul(y2, g))) s2.Backward();
        TestData.AssertClose(x2.Grad!, x1.Grad!, 1e-5, 1e-5);
        Assert.False(q.Bias!.RequiresGrad);
    }

    [Fact]
    public void QuantizationErrorIsWithinHalfAStepOfTheCodebook()
    {
        using var linear = new Linear(128, 16, bias: false, generator: new Generator(3));
        using var q = Linear4Bit.FromLinear(linear, FourBitType.Nf4, 64);
        using var dense = q.Dequantize();
        var w = linear.Weight.Data.ToArray<float>();
        var d = dense.ToArray<float>();
        // The widest gap between neighbouring NF4 values is -0.6962 - (-1) = 0.3038, so no weight moves by more
        // than 0.1519 of its block's absmax.
        for (int b = 0; b < w.Length / 64; b++)
        {
            float absmax = w.Skip(b * 64).Take(64).Max(MathF.Abs);
            for (int i = b * 64; i < (b + 1) * 64; i++)
                Assert.True(MathF.Abs(w[i] - d[i]) <= 0.1520f * absmax + 1e-7f, $"weight {i}: {w[i]} became {d[i]}");
        }
    }

    [Fact]
    public void ModelQuantizerReplacesLinearsButNotTheHeadAndMeetsTheMemoryBudget()
    {
        using var model = new TinyLm();
        using var x = TestData.Uniform(1, new Shape(3, 512), DType.F32, -0.5, 0.5);
        using var before = model.Forward(x);
        var report = ModelQuantizer.Quantize(model, BitsAndBytesConfig.QLoRA);
        Assert.Equal(2, report.Layers);
        Assert.Equal(2L * 512 * 1024, report.Parameters);
        Assert.IsType<Linear4Bit>(model.GetSubmodule("fc1"));
        Assert.IsType<Linear>(model.GetSubmodule("lm_head"));
        Assert.True(report.BytesPerParameter <= 0.55, $"{report.BytesPerParameter} bytes per parameter");
        using var after = model.Forward(x);
        var b = before.ToArray<float>();
        var a = after.ToArray<float>();
        double rel = Math.Sqrt(a.Zip(b, (p, r) => (double)(p - r) * (p - r)).Sum() / b.Sum(v => (double)v * v));
        Assert.True(rel < 0.15, $"4-bit outputs differ from f32 by {rel:P1} (relative RMS)");
    }

    /// <summary>Two hidden Linear layers and an output head named as in a causal LM.</summary>
    private sealed class TinyLm : Module
    {
        public TinyLm()
        {
            RegisterModule("fc1", new Linear(512, 1024, generator: new Generator(1)));
            RegisterModule("fc2", new Linear(1024, 512, generator: new Generator(2)));
            RegisterModule("lm_head", new Linear(512, 64, generator: new Generator(3)));
        }

        public override Tensor Forward(Tensor x)
        {
            using var h1 = GetChild("fc1").Forward(x);
            using var a = Ops.Gelu(h1);
            using var h2 = GetChild("fc2").Forward(a);
            return GetChild("lm_head").Forward(h2);
        }
    }
}
