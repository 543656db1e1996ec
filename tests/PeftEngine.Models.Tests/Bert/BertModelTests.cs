using PeftEngine.IO;
using PeftEngine.Models;
using PeftEngine.Nn;

namespace PeftEngine.Tests;

/// <summary>BERT's structure (HF names), loading variants and bad input.</summary>
public class BertModelTests
{
    private static BertConfig TinyConfig() => (BertConfig)HfConfig.Parse("""
        {"model_type": "bert", "vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
         "intermediate_size": 12, "max_position_embeddings": 16}
        """);

    [Fact]
    public void ModuleAndParameterNamesAreHuggingFaceNames()
    {
        using var model = new BertForSequenceClassification(TinyConfig(), numLabels: 2);
        var modules = model.NamedModules().Select(m => m.Name).ToHashSet();
        foreach (var path in new[] { "bert.embeddings.word_embeddings", "bert.embeddings.LayerNorm",
                     "bert.encoder.layer.1.attention.self.query", "bert.encoder.layer.1.attention.self.key",
                     "bert.encoder.layer.1.attention.self.value", "bert.encoder.layer.0.attention.output.dense",
                     "bert.encoder.layer.0.attention.output.LayerNorm", "bert.encoder.layer.0.intermediate.dense",
                     "bert.encoder.layer.0.output.dense", "bert.encoder.layer.0.output.LayerNorm", "bert.pooler.dense",
                     "classifier" })
            Assert.Contains(path, modules);
        // every projection is a real Linear child, so PEFT can find and wrap "query" / "value" by suffix
        var linears = model.NamedModules().Where(m => m.Module is Linear).Select(m => m.Name).ToList();
        Assert.Equal(2 * 6 + 2, linears.Count);
        Assert.Equal(2, linears.Count(n => n.EndsWith(".query", StringComparison.Ordinal)));
        Assert.Equal(2, linears.Count(n => n.EndsWith(".value", StringComparison.Ordinal)));
        Assert.Contains("bert.embeddings.token_type_embeddings.weight", model.NamedParameters().Select(p => p.Name));
    }

    [Fact]
    public void EncoderKeysWithoutPrefixLoadAndTheHeadIsNewlyInitialized()
    {
        // An encoder-only checkpoint (keys without "bert.", plus HF's position_ids buffer): BertModel loads it
        // completely and the classification model keeps a random head.
        var weights = BertFixture.LoadWeights(k => k.StartsWith("bert.", StringComparison.Ordinal) ? k[5..] : null);
        weights["embeddings.position_ids"] = Ops.Arange(0, 20, dtype: DType.I64);
        string dir = BertFixture.WriteTemp(weights);
        foreach (var t in weights.Values) t.Dispose();
        try
        {
            using var expected = BertFixture.OpenExpected();
            using var ids = expected.Load("ids");
            using var mask = expected.Load("attention_mask");
            using var types = expected.Load("token_type_ids");
            using var want = expected.Load("last_hidden_state");
            using var model = BertModel.FromPretrained(dir);
            using var hidden = model.Forward(ids, mask, types).TakeLastHiddenState();
            TestData.AssertClose(want.ToDoubleArray(), hidden.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "last_hidden_state");

            using var classifier = BertForSequenceClassification.FromPretrained(dir, numLabels: 5);
            Assert.Equal(["classifier.weight", "classifier.bias"], classifier.NewlyInitialized);
            using var logits = classifier.Forward(ids, mask, types);
            Assert.Equal(new Shape(3, 5), logits.Shape);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void PaddingDoesNotChangeTheRealTokens()
    {
        using var model = new BertModel(TinyConfig(), generator: new Generator(7));
        model.Eval();
        using var shortIds = Tensor.FromArray(new long[] { 2, 5, 7 }, 1, 3);
        using var paddedIds = Tensor.FromArray(new long[] { 2, 5, 7, 0, 0 }, 1, 5);
        using var mask = Tensor.FromArray(new long[] { 1, 1, 1, 0, 0 }, 1, 5);
        using var alone = model.Forward(shortIds, null);
        using var padded = model.Forward(paddedIds, mask);
        using var realPart = Ops.Slice(padded.LastHiddenState, 1, 0, 3);
        TestData.AssertClose(alone.LastHiddenState.ToDoubleArray(), realPart.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "hidden");
        TestData.AssertClose(alone.PooledOutput!.ToDoubleArray(), padded.PooledOutput!.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "pooled");
        using var e1 = SentencePooling.Mean(alone.LastHiddenState, null);
        using var e2 = SentencePooling.Mean(padded.LastHiddenState, mask);
        TestData.AssertClose(e1.ToDoubleArray(), e2.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "mean pooling");
        using var cls = SentencePooling.Cls(padded.LastHiddenState);
        using var first = Ops.Select(alone.LastHiddenState, 1, 0);
        TestData.AssertClose(first.ToDoubleArray(), cls.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "cls pooling");
    }

    [Fact]
    public void L2NormalizeGivesUnitRows()
    {
        using var x = Tensor.FromArray(new float[] { 3, 4, 0, 0, 0, 0 }, 2, 3);
        using var y = SentencePooling.L2Normalize(x);
        Assert.Equal([0.6, 0.8, 0, 0, 0, 0], y.ToDoubleArray().Select(v => Math.Round(v, 6)));
        Assert.Equal(1.0, SentencePooling.Cosine([1f, 2f], [2f, 4f]), 12);
    }

    [Fact]
    public void BadInputsGiveClearErrors()
    {
        using var model = new BertModel(TinyConfig());
        using var tooLong = Tensor.Zeros(new Shape(1, 17), DType.I64);
        Assert.Contains("max_position_embeddings", Assert.Throws<ArgumentException>(() => model.Forward(tooLong)).Message);
        using var floats = Tensor.Zeros(new Shape(1, 3));
        Assert.Contains("i64", Assert.Throws<ArgumentException>(() => model.Forward(floats)).Message);
        string missing = Path.Combine(Path.GetTempPath(), "no-such-bert-" + Guid.NewGuid().ToString("N"));
        Assert.Throws<DirectoryNotFoundException>(() => BertModel.FromPretrained(missing));

        var weights = BertFixture.LoadWeights(k => k == "bert.encoder.layer.1.output.dense.weight" ? null : k);
        string dir = BertFixture.WriteTemp(weights);
        foreach (var t in weights.Values) t.Dispose();
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => BertModel.FromPretrained(dir));
            Assert.Contains("encoder.layer.1.output.dense.weight", e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void TrainingModeWithTinyDropoutMatchesEvaluationAndBackpropagates()
    {
        // With p = 1e-9 nothing is dropped in practice, so the training path (scores materialised for attention
        // dropout) must give the evaluation path's numbers (fused attention kernel), and gradients must flow.
        var config = TinyConfig() with { HiddenDropoutProb = 1e-9, AttentionProbsDropoutProb = 1e-9 };
        using var model = new BertForSequenceClassification(config, numLabels: 3, generator: new Generator(3));
        using var ids = Tensor.FromArray(new long[] { 2, 5, 7, 9, 4, 3, 0, 0 }, 2, 4);
        using var mask = Tensor.FromArray(new long[] { 1, 1, 1, 1, 1, 1, 0, 0 }, 2, 4);
        using var labels = Tensor.FromArray(new long[] { 0, 2 }, 2);
        model.Eval();
        double[] evalLogits;
        using (GradMode.Disable())
        using (var logits = model.Forward(ids, mask))
            evalLogits = logits.ToDoubleArray();
        model.Train();
        using (var logits = model.Forward(ids, mask))
            TestData.AssertClose(evalLogits, logits.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "training-mode logits");
        using (var loss = model.Loss(ids, labels, mask)) loss.Backward();
        Assert.All(model.NamedParameters(), np => Assert.True(np.Parameter.Grad is not null, $"{np.Name} got no gradient"));
    }

    [Fact]
    public void OneLabelIsRegressionWithMeanSquaredError()
    {
        using var model = new BertForSequenceClassification(TinyConfig(), numLabels: 1, generator: new Generator(5));
        model.Eval();
        using var ids = Tensor.FromArray(new long[] { 2, 5, 7, 9, 4, 3 }, 2, 3);
        using var targets = Tensor.FromArray(new float[] { 0.5f, -1.5f }, 2);
        using var logits = model.Forward(ids);
        using var loss = model.Loss(ids, targets);
        var l = logits.ToDoubleArray();
        double want = ((l[0] - 0.5) * (l[0] - 0.5) + (l[1] + 1.5) * (l[1] + 1.5)) / 2;
        Assert.Equal(want, loss.ToDoubleArray()[0], 5);
    }
}
