using PeftEngine.Models;

namespace PeftEngine.Tests;

/// <summary>The LLaMA family against a plain-PyTorch reference with the same weights (Fixtures/llama_family):
/// logits, loss and the gradient of every parameter, for Llama (GQA, llama3 rope scaling, untied head), Qwen2
/// (q/k/v biases, tied head, right padding) and Mistral (sliding window).</summary>
public class LlamaParityTests
{
    [Theory]
    [MemberData(nameof(LlamaFixture.All), MemberType = typeof(LlamaFixture))]
    public void LogitsAndLossMatchPyTorch(string name)
    {
        using var expected = LlamaFixture.OpenExpected(name);
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory(name));
        using var ids = expected.Load("ids");
        using var labels = expected.Load("labels");
        using var mask = expected.Load("attention_mask");
        using var wantLogits = expected.Load("logits");
        using var wantLoss = expected.Load("loss");

        using var logits = model.Forward(ids, mask);
        Assert.Equal(new Shape(2, 7, 48), logits.Shape);
        var m = mask.ToDoubleArray();
        // Padded positions are meaningless in both implementations (and masked differently); compare real ones.
        TestData.AssertClose(LlamaFixture.RealPositions(wantLogits.ToDoubleArray(), m, 48),
            LlamaFixture.RealPositions(logits.ToDoubleArray(), m, 48), atol: 1e-5, rtol: 1e-5, what: name + " logits");

        using var loss = model.Loss(ids, labels, mask);
        Assert.Equal(0, loss.Rank);
        TestData.AssertClose(wantLoss.ToDoubleArray(), loss.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: name + " loss");
    }

    [Theory]
    [MemberData(nameof(LlamaFixture.All), MemberType = typeof(LlamaFixture))]
    public void LoadedInFloat64TheLogitsMatchToDoublePrecision(string name)
    {
        // The reference ran in float64 from the stored float32 weights, which widen exactly.
        using var expected = LlamaFixture.OpenExpected(name);
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory(name), DType.F64);
        using var ids = expected.Load("ids");
        using var labels = expected.Load("labels");
        using var mask = expected.Load("attention_mask");
        using var wantLogits = expected.Load("logits");
        using var wantLoss = expected.Load("loss");
        using var logits = model.Forward(ids, mask);
        Assert.Equal(DType.F64, logits.DType);
        var m = mask.ToDoubleArray();
        TestData.AssertClose(LlamaFixture.RealPositions(wantLogits.ToDoubleArray(), m, 48),
            LlamaFixture.RealPositions(logits.ToDoubleArray(), m, 48), atol: 1e-10, rtol: 1e-10, what: name + " logits");
        using var loss = model.Loss(ids, labels, mask);
        TestData.AssertClose(wantLoss.ToDoubleArray(), loss.ToDoubleArray(), atol: 1e-12, rtol: 1e-10, what: name + " loss");
    }

    [Theory]
    [MemberData(nameof(LlamaFixture.All), MemberType = typeof(LlamaFixture))]
    public void EveryParameterGradientMatchesPyTorch(string name)
    {
        using var expected = LlamaFixture.OpenExpected(name);
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory(name));
        using var ids = expected.Load("ids");
        using var labels = expected.Load("labels");
        using var mask = expected.Load("attention_mask");

        using (var loss = model.Loss(ids, labels, mask)) loss.Backward();
        // float32 accumulation over a few hundred terms: about 1e-5 of the largest gradient
        AssertGradientsMatch(model, expected, name, atolOfScale: 2e-5, rtol: 1e-5);
    }

    [Theory]
    [MemberData(nameof(LlamaFixture.All), MemberType = typeof(LlamaFixture))]
    public void InFloat64EveryGradientMatchesToTheFixturesFloat32Rounding(string name)
    {
        using var expected = LlamaFixture.OpenExpected(name);
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory(name), DType.F64);
        using var ids = expected.Load("ids");
        using var labels = expected.Load("labels");
        using var mask = expected.Load("attention_mask");
        using (var loss = model.Loss(ids, labels, mask)) loss.Backward();
        // the fixture stores float64 gradients rounded to float32 (relative error below 6e-8)
        AssertGradientsMatch(model, expected, name, atolOfScale: 1e-7, rtol: 1e-6);
    }

    /// <summary>Every parameter's gradient equals the fixture's "grad.NAME", and the names are exactly HF's.</summary>
    internal static void AssertGradientsMatch(LlamaModel model, IO.Safetensors.SafetensorsFile expected, string name,
        double atolOfScale, double rtol)
    {
        var names = model.NamedParameters().Select(np => np.Name).ToList();
        var gradKeys = expected.Keys.Where(k => k.StartsWith("grad.", StringComparison.Ordinal)).Select(k => k["grad.".Length..]).ToList();
        Assert.Equal(gradKeys.Order(), names.Order());
        foreach (var (pname, p) in model.NamedParameters())
        {
            using var want = expected.Load("grad." + pname);
            Assert.NotNull(p.Grad);
            Assert.Equal(want.Shape, p.Grad!.Shape);
            var w = want.ToDoubleArray();
            double scale = w.Max(Math.Abs);
            Assert.True(scale > 0, $"{name} {pname}: the reference gradient is zero, so the comparison would be empty");
            TestData.AssertClose(w, p.Grad.ToDoubleArray(), atol: atolOfScale * scale, rtol: rtol, what: $"{name} grad {pname}");
        }
    }
}
