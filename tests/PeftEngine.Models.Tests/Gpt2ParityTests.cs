using PeftEngine.Models;

namespace PeftEngine.Tests;

/// <summary>GPT-2 against a plain-PyTorch GPT-2 with the same weights (Fixtures/gpt2): logits, loss and the
/// gradient of every parameter.</summary>
public class Gpt2ParityTests
{
    [Fact]
    public void LogitsAndLossMatchPyTorch()
    {
        using var expected = Gpt2Fixture.OpenExpected();
        using var model = Gpt2Model.FromPretrained(Gpt2Fixture.Directory);
        using var ids = expected.Load("ids");
        using var labels = expected.Load("labels");
        using var wantLogits = expected.Load("logits");
        using var wantLoss = expected.Load("loss");

        using var logits = model.Forward(ids);
        Assert.Equal(new Shape(2, 7, 50), logits.Shape);
        TestData.AssertClose(wantLogits.ToDoubleArray(), logits.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "logits");

        using var loss = model.Loss(ids, labels);
        Assert.Equal(0, loss.Rank);
        TestData.AssertClose(wantLoss.ToDoubleArray(), loss.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "loss");
    }

    [Fact]
    public void LoadedInFloat64TheLogitsMatchToDoublePrecision()
    {
        // The reference was computed in float64 from the stored float32 weights, which widen exactly.
        using var expected = Gpt2Fixture.OpenExpected();
        using var model = Gpt2Model.FromPretrained(Gpt2Fixture.Directory, DType.F64);
        using var ids = expected.Load("ids");
        using var labels = expected.Load("labels");
        using var wantLogits = expected.Load("logits");
        using var wantLoss = expected.Load("loss");
        using var logits = model.Forward(ids);
        Assert.Equal(DType.F64, logits.DType);
        TestData.AssertClose(wantLogits.ToDoubleArray(), logits.ToDoubleArray(), atol: 1e-10, rtol: 1e-10, what: "logits");
        using var loss = model.Loss(ids, labels);
        TestData.AssertClose(wantLoss.ToDoubleArray(), loss.ToDoubleArray(), atol: 1e-12, rtol: 1e-10, what: "loss");
    }

    [Fact]
    public void EveryParameterGradientMatchesPyTorch()
    {
        using var expected = Gpt2Fixture.OpenExpected();
        using var model = Gpt2Model.FromPretrained(Gpt2Fixture.Directory);
        using var ids = expected.Load("ids");
        using var labels = expected.Load("labels");

        using (var loss = model.Loss(ids, labels)) loss.Backward();

        var names = model.NamedParameters().Select(np => np.Name).ToList();
        var gradKeys = expected.Keys.Where(k => k.StartsWith("grad.", StringComparison.Ordinal)).Select(k => k["grad.".Length..]).ToList();
        Assert.Equal(gradKeys.Order(), names.Order());
        foreach (var (name, p) in model.NamedParameters())
        {
            using var want = expected.Load("grad." + name);
            Assert.NotNull(p.Grad);
            Assert.Equal(want.Shape, p.Grad!.Shape);
            var w = want.ToDoubleArray();
            double scale = w.Max(Math.Abs);
            Assert.True(scale > 0, $"{name}: the reference gradient is zero, so the comparison would be empty");
            TestData.AssertClose(w, p.Grad.ToDoubleArray(), atol: 1e-6 * scale, rtol: 1e-5, what: "grad " + name);
        }
    }

    [Fact]
    public void KeysWithTheTransformerPrefixAndMaskBuffersLoadTheSameModel()
    {
        string dir = Gpt2Fixture.CopyToTemp();
        try
        {
            string weights = Path.Combine(dir, "model.safetensors");
            var renamed = new Dictionary<string, Tensor>();
            using (var file = IO.Safetensors.SafetensorsFile.Open(weights))
                foreach (var key in file.Keys) renamed["transformer." + key] = file.Load(key);
            renamed["transformer.h.0.attn.bias"] = Ops.Tril(Tensor.Ones(new Shape(1, 1, 32, 32)));   // HF's old mask buffer
            IO.Safetensors.SafetensorsWriter.Save(weights, renamed);
            foreach (var t in renamed.Values) t.Dispose();

            using var expected = Gpt2Fixture.OpenExpected();
            using var ids = expected.Load("ids");
            using var wantLogits = expected.Load("logits");
            using var model = Gpt2Model.FromPretrained(dir);
            using var logits = model.Forward(ids);
            TestData.AssertClose(wantLogits.ToDoubleArray(), logits.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "logits");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
