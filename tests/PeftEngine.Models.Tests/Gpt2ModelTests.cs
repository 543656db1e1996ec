using PeftEngine.IO;
using PeftEngine.IO.Safetensors;
using PeftEngine.Models;

namespace PeftEngine.Tests;

/// <summary>GPT-2's module tree, generation, attention mask and checkpoint errors.</summary>
public class Gpt2ModelTests
{
    private static Gpt2Config TinyConfig(double attnPdrop = 0) => (Gpt2Config)HfConfig.Parse(
        "{\"model_type\":\"gpt2\",\"vocab_size\":50,\"n_positions\":32,\"n_embd\":16,\"n_layer\":2,\"n_head\":2,"
        + $"\"attn_pdrop\":{attnPdrop.ToString(System.Globalization.CultureInfo.InvariantCulture)},\"resid_pdrop\":0,\"embd_pdrop\":0}}");

    [Fact]
    public void ModulePathsAreThoseOfHuggingFaceGpt2LMHeadModel()
    {
        using var model = new Gpt2Model(TinyConfig());
        var expected = new List<string> { "", "transformer", "transformer.wte", "transformer.wpe", "transformer.drop", "transformer.h" };
        for (int i = 0; i < 2; i++)
        {
            string b = $"transformer.h.{i}";
            expected.AddRange([b, b + ".ln_1", b + ".attn", b + ".attn.c_attn", b + ".attn.c_proj", b + ".attn.attn_dropout",
                b + ".attn.resid_dropout", b + ".ln_2", b + ".mlp", b + ".mlp.c_fc", b + ".mlp.c_proj", b + ".mlp.act", b + ".mlp.dropout"]);
        }
        expected.AddRange(["transformer.ln_f", "lm_head"]);
        Assert.Equal(expected, model.NamedModules().Select(m => m.Name).ToList());

        var parameters = model.NamedParameters().ToDictionary(np => np.Name, np => np.Parameter.Shape);
        Assert.Equal(new Shape(16, 48), parameters["transformer.h.0.attn.c_attn.weight"]);   // Conv1D layout (in, out)
        Assert.Equal(new Shape(48), parameters["transformer.h.0.attn.c_attn.bias"]);
        Assert.Equal(new Shape(64, 16), parameters["transformer.h.1.mlp.c_proj.weight"]);
        Assert.Equal(2 + 2 * 12 + 2, parameters.Count);   // wte, wpe; 12 per block; ln_f
        using var state = model.StateDict();
        Assert.False(state.ContainsKey("lm_head.weight"));
        Assert.Equal(parameters.Keys.Order(), state.Keys.Order());
    }

    [Fact]
    public void GreedyGenerationIsDeterministicAndFollowsTheFullForwardArgmax()
    {
        using var model = Gpt2Model.FromPretrained(Gpt2Fixture.Directory);
        using var prompt = Tensor.FromArray(new long[] { 3, 14, 15, 9, 2, 6 }, 2, 3);
        using var first = model.GenerateGreedy(prompt, 5);
        using var second = model.GenerateGreedy(prompt, 5);
        Assert.Equal(new Shape(2, 8), first.Shape);
        var tokens = first.ToArray<long>();
        Assert.Equal(tokens, second.ToArray<long>());

        for (int t = 3; t < 8; t++)
        {
            using var prefixView = Ops.Slice(first, 1, 0, t);
            using var prefix = Ops.Contiguous(prefixView);
            using var logits = model.Forward(prefix);          // (2, t, 50)
            var values = logits.ToFloatArray();
            for (int row = 0; row < 2; row++)
            {
                long best = 0;
                for (int v = 1; v < 50; v++)
                    if (values[(row * t + t - 1) * 50 + v] > values[(row * t + t - 1) * 50 + best]) best = v;
                Assert.Equal(best, tokens[row * 8 + t]);
            }
        }
        Assert.Equal(new long[] { 3, 14, 15 }, tokens[..3]);
    }

    [Fact]
    public void RightPaddingDoesNotChangeTheRealPositions()
    {
        using var model = Gpt2Model.FromPretrained(Gpt2Fixture.Directory);
        using var ids = Tensor.FromArray(new long[] { 5, 7, 11, 13, 17, 0, 0 }, 1, 7);
        using var mask = Tensor.FromArray(new long[] { 1, 1, 1, 1, 1, 0, 0 }, 1, 7);
        using var shortIds = Tensor.FromArray(new long[] { 5, 7, 11, 13, 17 }, 1, 5);
        using var padded = model.Forward(ids, mask);
        using var unpadded = model.Forward(shortIds);
        using var real = Ops.Slice(padded, 1, 0, 5);
        TestData.AssertClose(unpadded.ToDoubleArray(), real.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "logits");

        // A mask that only pads keys a causal query could not see anyway changes nothing before the padding.
        using var ones = Tensor.FromArray(new long[] { 1, 1, 1, 1, 1, 1, 1 }, 1, 7);
        using var unmasked = model.Forward(ids, ones);
        using var plain = model.Forward(ids);
        TestData.AssertClose(plain.ToDoubleArray(), unmasked.ToDoubleArray(), atol: 0, rtol: 0, what: "all-ones mask");
    }

    [Fact]
    public void AttentionWithDropoutInTrainingUsesTheExplicitPathWhichMatchesTheFusedOne()
    {
        // A dropout probability so small that nothing is dropped sends training mode through the explicit
        // softmax path; its result must equal the fused kernel's (evaluation mode).
        var config = TinyConfig(attnPdrop: 1e-12);
        using var model = new Gpt2Model(config, generator: new Generator(7));
        using var ids = Tensor.FromArray(new long[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, 2, 5);
        model.Train();
        using var trained = model.Forward(ids);
        model.Eval();
        using var evaluated = model.Forward(ids);
        TestData.AssertClose(evaluated.ToDoubleArray(), trained.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "logits");
    }

    [Fact]
    public void AttentionWithDropoutInTrainingPassesGradientsThroughTheScores()
    {
        // The explicit training path (dropout on, nothing dropped) must give the same parameter gradients as the
        // fused path, with and without a padding mask: a break in its graph would leave c_attn's query/key part
        // with a different gradient.
        var config = TinyConfig(attnPdrop: 1e-12);
        using var ids = Tensor.FromArray(new long[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, 2, 5);
        foreach (var mask in new[] { null, Tensor.FromArray(new long[] { 1, 1, 1, 1, 1, 0, 1, 1, 1, 1 }, 2, 5) })
        {
            double[] Grad(bool training)
            {
                using var model = new Gpt2Model(config, generator: new Generator(7));
                model.Train(training);
                using (var loss = model.Loss(ids, ids, mask)) loss.Backward();
                return model.GetSubmodule<Nn.Conv1D>("transformer.h.0.attn.c_attn").Weight.Grad!.ToDoubleArray();
            }
            TestData.AssertClose(Grad(false), Grad(true), atol: 1e-7, rtol: 1e-5, what: "c_attn gradient");
            mask?.Dispose();
        }
    }

    [Fact]
    public void MissingConfigIsAnErrorNamingTheFile()
    {
        string dir = Gpt2Fixture.CopyToTemp();
        try
        {
            File.Delete(Path.Combine(dir, "config.json"));
            var e = Assert.Throws<FileNotFoundException>(() => Gpt2Model.FromPretrained(dir));
            Assert.Contains(Path.Combine(dir, "config.json"), e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void MissingTensorIsAnErrorNamingTheFileAndKey()
    {
        string dir = Gpt2Fixture.CopyToTemp();
        try
        {
            RewriteWeights(dir, tensors => { tensors.Remove("h.1.mlp.c_fc.bias", out var t); t!.Dispose(); });
            var e = Assert.Throws<InvalidDataException>(() => Gpt2Model.FromPretrained(dir));
            Assert.Contains(Path.Combine(dir, "model.safetensors"), e.Message);
            Assert.Contains("transformer.h.1.mlp.c_fc.bias", e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void MisShapedTensorIsAnErrorNamingTheFileKeyAndShapes()
    {
        string dir = Gpt2Fixture.CopyToTemp();
        try
        {
            RewriteWeights(dir, tensors =>
            {
                tensors["wpe.weight"].Dispose();
                tensors["wpe.weight"] = Tensor.Zeros(new Shape(31, 16));
            });
            var e = Assert.Throws<InvalidDataException>(() => Gpt2Model.FromPretrained(dir));
            Assert.Contains(Path.Combine(dir, "model.safetensors"), e.Message);
            Assert.Contains("'wpe.weight'", e.Message);
            Assert.Contains(new Shape(31, 16).ToString(), e.Message);
            Assert.Contains(new Shape(32, 16).ToString(), e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void UnknownTensorIsAnErrorNamingIt()
    {
        string dir = Gpt2Fixture.CopyToTemp();
        try
        {
            RewriteWeights(dir, tensors => tensors["h.0.attn.q_attn.weight"] = Tensor.Zeros(new Shape(16, 16)));
            var e = Assert.Throws<InvalidDataException>(() => Gpt2Model.FromPretrained(dir));
            Assert.Contains("'h.0.attn.q_attn.weight'", e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static void RewriteWeights(string dir, Action<Dictionary<string, Tensor>> change)
    {
        string path = Path.Combine(dir, "model.safetensors");
        Dictionary<string, Tensor> tensors;
        using (var file = SafetensorsFile.Open(path)) tensors = file.LoadAll();
        try
        {
            change(tensors);
            SafetensorsWriter.Save(path, tensors);
        }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
    }
}
