using PeftEngine.Models;

namespace PeftEngine.Tests;

/// <summary>BERT against a plain-PyTorch BERT with the same weights (Fixtures/bert) on a padded batch with two
/// token types: hidden states, pooled output, logits, loss, sentence embeddings and every parameter's gradient.</summary>
public class BertParityTests
{
    [Theory]
    [InlineData(DType.F32, 1e-5, 1e-6)]
    [InlineData(DType.F64, 1e-10, 1e-11)]
    public void EncoderOutputsMatchPyTorch(DType dtype, double rtol, double atol)
    {
        using var expected = BertFixture.OpenExpected();
        using var model = BertModel.FromPretrained(BertFixture.Directory, dtype);
        using var ids = expected.Load("ids");
        using var types = expected.Load("token_type_ids");
        using var mask = expected.Load("attention_mask");
        using var wantHidden = expected.Load("last_hidden_state");
        using var wantPooled = expected.Load("pooled");
        using var wantEmbedding = expected.Load("sentence_embedding");

        using var outputs = model.Forward(ids, mask, types);
        Assert.Equal(new Shape(3, 6, 16), outputs.LastHiddenState.Shape);
        Assert.Equal(dtype, outputs.LastHiddenState.DType);
        // Padded positions are compared too: they are computed the same way, only never attended to.
        TestData.AssertClose(wantHidden.ToDoubleArray(), outputs.LastHiddenState.ToDoubleArray(), atol: atol, rtol: rtol, what: "last_hidden_state");
        TestData.AssertClose(wantPooled.ToDoubleArray(), outputs.PooledOutput!.ToDoubleArray(), atol: atol, rtol: rtol, what: "pooled");

        using var mean = SentencePooling.Mean(outputs.LastHiddenState, mask);
        using var embedding = SentencePooling.L2Normalize(mean);
        TestData.AssertClose(wantEmbedding.ToDoubleArray(), embedding.ToDoubleArray(), atol: atol, rtol: rtol, what: "sentence embedding");
    }

    [Fact]
    public void ClassificationLogitsLossAndEveryGradientMatchPyTorch()
    {
        using var expected = BertFixture.OpenExpected();
        using var model = BertForSequenceClassification.FromPretrained(BertFixture.Directory);
        Assert.Equal(3, model.NumLabels);   // from id2label
        Assert.Empty(model.NewlyInitialized);
        using var ids = expected.Load("ids");
        using var types = expected.Load("token_type_ids");
        using var mask = expected.Load("attention_mask");
        using var labels = expected.Load("labels");
        using var wantLogits = expected.Load("logits");
        using var wantLoss = expected.Load("loss");

        using (var logits = model.Forward(ids, mask, types))
            TestData.AssertClose(wantLogits.ToDoubleArray(), logits.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "logits");
        using (var loss = model.Loss(ids, labels, mask, types))
        {
            TestData.AssertClose(wantLoss.ToDoubleArray(), loss.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "loss");
            loss.Backward();
        }

        var names = model.NamedParameters().Select(np => np.Name).ToList();
        var gradKeys = expected.Keys.Where(k => k.StartsWith("grad.", StringComparison.Ordinal)).Select(k => k["grad.".Length..]).ToList();
        Assert.Equal(gradKeys.Order(), names.Order());
        double global = BertFixture.MaxAbs(expected, "grad.");
        foreach (var (name, p) in model.NamedParameters())
        {
            using var want = expected.Load("grad." + name);
            BertFixture.AssertGradient(name, want, p.Grad, rtol: 1e-4, global);
        }
    }

    [Fact]
    public void SentenceEmbeddingGradientsMatchPyTorch()
    {
        using var expected = BertFixture.OpenExpected();
        using var model = BertModel.FromPretrained(BertFixture.Directory);
        using var ids = expected.Load("ids");
        using var types = expected.Load("token_type_ids");
        using var mask = expected.Load("attention_mask");
        using var probe = expected.Load("embed_probe", DType.F32);

        using (var outputs = model.Forward(ids, mask, types, computePooled: false))
        using (var mean = SentencePooling.Mean(outputs.LastHiddenState, mask))
        using (var embedding = SentencePooling.L2Normalize(mean))
        using (var product = Ops.Mul(embedding, probe))
        using (var objective = Ops.Sum(product))
            objective.Backward();

        double global = BertFixture.MaxAbs(expected, "grademb.");
        foreach (var (name, p) in model.NamedParameters())
        {
            if (name.StartsWith("pooler.", StringComparison.Ordinal)) { Assert.Null(p.Grad); continue; }
            using var want = expected.Load("grademb." + name);
            BertFixture.AssertGradient(name, want, p.Grad, rtol: 1e-4, global);
        }
    }
}
