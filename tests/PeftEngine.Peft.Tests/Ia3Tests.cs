using PeftEngine.IO.Safetensors;
using PeftEngine.Nn;
using PeftEngine.Peft;
using PeftEngine.Peft.Ia3;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Serialization;
using PeftEngine.Peft.Tuners;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>(IA)³'s own math: hand-computed outputs and merges, parameter counts, GPT-2's Conv1D layout, several
/// active adapters, weighted combination, defaults and the HF file layout.</summary>
public class Ia3Tests
{
    /// <summary>y = lin(x) with W = [[1, 2], [3, 4]], b = [0.5, −1].</summary>
    private sealed class OneLinear : Module
    {
        public OneLinear()
        {
            var lin = RegisterModule("lin", new Linear(2, 2));
            using var _ = GradMode.Disable();
            using var w = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2);
            using var b = Tensor.FromArray(new float[] { 0.5f, -1 }, 2);
            Ops.CopyInPlace(lin.Weight, w);
            Ops.CopyInPlace(lin.Bias!, b);
        }

        public override Tensor Forward(Tensor x) => GetChild("lin").Forward(x);
    }

    private static void SetVector(PeftModel peft, string path, string adapter, params float[] values)
    {
        var p = peft.Model.GetSubmodule<Ia3Layer>(path).Vectors[adapter];
        using var _ = GradMode.Disable();
        using var t = Tensor.FromArray(values, p.Shape.ToArray());
        Ops.CopyInPlace(p, t);
    }

    [Theory]
    [InlineData(false, new double[] { 7, 18 }, new double[] { 2, 4, 9, 12 }, new double[] { 1, -3 })]
    [InlineData(true, new double[] { 8.5, 17 }, new double[] { 2, 6, 6, 12 }, new double[] { 0.5, -1 })]
    public void HandComputedOutputAndMerge(bool feedforward, double[] output, double[] mergedWeight, double[] mergedBias)
    {
        // l = [2, 3]; x = [1, 1]; base: W·x + b = [3.5, 6].
        // output scaling: l ⊙ [3.5, 6] = [7, 18]; merged rows: diag(l)·W, b' = l ⊙ b.
        // input scaling:  W·[2, 3] + b = [8.5, 17]; merged columns: W·diag(l), b unchanged.
        using var peft = PeftModel.Create(new OneLinear(), new Ia3Config
        {
            TargetModules = TargetModules.Of("lin"), FeedforwardModules = feedforward ? TargetModules.Of("lin") : Ia3Config.NoFeedforward,
        });
        var layer = peft.Model.GetSubmodule<Ia3Layer>("lin");
        Assert.Equal(feedforward ? new Shape(1, 2) : new Shape(2, 1), layer.Vectors["default"].Shape);
        Assert.Equal([1f, 1f], layer.Vectors["default"].Data.ToFloatArray());
        SetVector(peft, "lin", "default", 2, 3);
        using var x = Tensor.FromArray(new float[] { 1, 1 }, 1, 2);
        Assert.Equal(output, Run(peft, x));
        peft.MergeAdapter();
        var lin = (Linear)layer.BaseLayer;
        Assert.Equal(mergedWeight, lin.Weight.Data.ToDoubleArray());
        Assert.Equal(mergedBias, lin.Bias!.Data.ToDoubleArray());
        Assert.Equal(output, Run(peft, x));
        peft.UnmergeAdapter();
        Assert.Equal(new double[] { 1, 2, 3, 4 }, lin.Weight.Data.ToDoubleArray());
        Assert.Equal(new double[] { 0.5, -1 }, lin.Bias!.Data.ToDoubleArray());
    }

    [Fact]
    public void ParameterCountsFollowTheTargetShapes()
    {
        // GPT-2 defaults: c_attn scales its 3·16 outputs, mlp.c_proj its 4·16 inputs, in each of 2 layers.
        using (var gpt2 = PeftModel.Create(TestGpt2.Create(new Generator(1)), new Ia3Config()))
        {
            Assert.Equal((48 + 64) * 2, gpt2.GetNbTrainableParameters().Trainable);
            Assert.Equal(new Shape(48, 1), gpt2.Model.GetSubmodule<Ia3Layer>("transformer.h.0.attn.c_attn").Vectors["default"].Shape);
            Assert.Equal(new Shape(1, 64), gpt2.Model.GetSubmodule<Ia3Layer>("transformer.h.1.mlp.c_proj").Vectors["default"].Shape);
            Assert.IsNotType<Ia3Layer>(gpt2.Model.GetSubmodule("transformer.h.0.attn.c_proj"));
        }
        // LLaMA defaults: k_proj and v_proj (2 kv heads × 4 = 8 outputs each), down_proj (24 inputs), 2 layers.
        using var llama = PeftModel.Create(TestLlama.Create(new Generator(1)), new Ia3Config());
        Assert.Equal((8 + 8 + 24) * 2, llama.GetNbTrainableParameters().Trainable);
        Assert.True(llama.Model.GetSubmodule<Ia3Layer>("model.layers.0.mlp.down_proj").IsFeedforward);
        Assert.False(llama.Model.GetSubmodule<Ia3Layer>("model.layers.0.self_attn.k_proj").IsFeedforward);
    }

    [Fact]
    public void BertDefaultsScaleKeyValueAndBothOutputDenseLayers()
    {
        var config = (PeftEngine.IO.BertConfig)PeftEngine.IO.HfConfig.Parse("""
            {"model_type": "bert", "vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 12, "max_position_embeddings": 16}
            """);
        using var reference = new PeftEngine.Models.BertModel(config, generator: new Generator(1));
        using var ids = Tensor.FromArray(new long[] { 1, 5, 9, 2, 3, 7 }, 2, 3);
        var baseOut = Run(reference, ids);
        using var peft = PeftModel.Create(new PeftEngine.Models.BertModel(config, generator: new Generator(1)), new Ia3Config { InitIa3Weights = false }, "default", new Generator(2));
        // "output.dense" is a suffix of both attention.output.dense (in 8) and the FFN's output.dense (in 12), and
        // HF's endswith test makes both feed-forward: per layer 8 (key) + 8 (value) + 8 + 12
        Assert.Equal(2 * (8 + 8 + 8 + 12), peft.GetNbTrainableParameters().Trainable);
        Assert.True(peft.Model.GetSubmodule<Ia3Layer>("encoder.layer.0.attention.output.dense").IsFeedforward);
        Assert.True(peft.Model.GetSubmodule<Ia3Layer>("encoder.layer.1.output.dense").IsFeedforward);
        Assert.False(peft.Model.GetSubmodule<Ia3Layer>("encoder.layer.1.attention.self.key").IsFeedforward);
        AssertDiffers(baseOut, Run(peft, ids), 1e-4, "IA3 on BERT");
        using (peft.DisableAdapter()) TestData.AssertClose(baseOut, Run(peft, ids), 1e-6, 1e-6, "disabled");
    }

    [Theory]
    [InlineData("transformer.h.0.attn.c_attn", false)]
    [InlineData("transformer.h.1.mlp.c_proj", true)]
    public void MergeOnGpt2Conv1DScalesTheStoredColumnsOrRows(string path, bool feedforward)
    {
        using var capture = PeftWarnings.Capture();
        using var peft = PeftModel.Create(TestGpt2.Create(new Generator(4)), new Ia3Config { InitIa3Weights = false }, "default", new Generator(5));
        Assert.Contains("fan_in_fan_out is set to False but the target module is `Conv1D`. Setting fan_in_fan_out to True.", capture.Messages);
        Assert.True(((Ia3Config)peft.PeftConfigs["default"]).FanInFanOut);
        var layer = peft.Model.GetSubmodule<Ia3Layer>(path);
        var conv = (Conv1D)layer.BaseLayer;
        int n = conv.InFeatures, m = conv.OutFeatures;                   // weight stored (in, out)
        float[] w = conv.Weight.Data.ToFloatArray(), b = conv.Bias!.Data.ToFloatArray();
        float[] l = layer.Vectors["default"].Data.ToFloatArray();
        Assert.Equal(feedforward ? n : m, l.Length);
        peft.MergeAdapter([.. peft.PeftConfigs.Keys]);
        float[] merged = conv.Weight.Data.ToFloatArray(), mergedBias = conv.Bias.Data.ToFloatArray();
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
                Assert.Equal(w[i * m + j] * (feedforward ? l[i] : l[j]), merged[i * m + j]);   // one float product: exact
        for (int j = 0; j < m; j++) Assert.Equal(feedforward ? b[j] : b[j] * l[j], mergedBias[j]);
        peft.UnmergeAdapter();
        float[] back = conv.Weight.Data.ToFloatArray();
        for (int i = 0; i < back.Length; i++)
            Assert.True(Math.Abs(back[i] - w[i]) <= 2.4e-7 * Math.Abs(w[i]), $"weight[{i}] {w[i]:R} -> {back[i]:R}");
    }

    [Fact]
    public void SeveralActiveAdaptersMultiplyTheirVectors()
    {
        using var peft = PeftModel.Create(new OneLinear(), new Ia3Config { TargetModules = TargetModules.Of("lin"), FeedforwardModules = Ia3Config.NoFeedforward });
        peft.AddAdapter("other", new Ia3Config { TargetModules = TargetModules.Of("lin"), FeedforwardModules = Ia3Config.NoFeedforward });
        SetVector(peft, "lin", "default", 2, 3);
        SetVector(peft, "lin", "other", -1, 0.5f);
        peft.SetAdapter("default", "other");
        using var x = Tensor.FromArray(new float[] { 1, 1 }, 1, 2);
        Assert.Equal(new double[] { -7, 9 }, Run(peft, x));                 // [3.5, 6] ⊙ [2, 3] ⊙ [−1, 0.5]
        peft.MergeAdapter();
        Assert.Equal(new double[] { -7, 9 }, Run(peft, x));
        peft.UnmergeAdapter();
        using (peft.DisableAdapter()) Assert.Equal(new double[] { 3.5, 6 }, Run(peft, x));
    }

    [Fact]
    public void WeightedCombinationIsTheWeightedSumOfTheVectors()
    {
        using var peft = PeftModel.Create(new TestMlp(new Generator(1)),
            new Ia3Config { TargetModules = TargetModules.Of("lin0", "lin1"), FeedforwardModules = TargetModules.Of("lin1"), InitIa3Weights = false }, "a", new Generator(2));
        // lin0 scales outputs for "a"; an adapter that wants it as a feed-forward layer is refused, the model unchanged
        var e = Assert.Throws<ArgumentException>(() => peft.AddAdapter("b",
            new Ia3Config { TargetModules = TargetModules.Of("lin0"), FeedforwardModules = TargetModules.Of("lin0") }));
        Assert.Contains("feed-forward", e.Message);
        Assert.Equal(["a"], peft.Model.GetSubmodule<Ia3Layer>("lin0").AdapterNames);
        peft.AddAdapter("c", new Ia3Config { TargetModules = TargetModules.Of("lin0", "lin1"), FeedforwardModules = TargetModules.Of("lin1"), InitIa3Weights = false }, new Generator(4));
        peft.AddWeightedAdapter(["a", "c"], [0.5, -2.0], "mix");
        var config = (Ia3Config)peft.PeftConfigs["mix"];
        Assert.Equal(TargetModules.Of("lin0", "lin1"), config.TargetModules);
        Assert.Equal(TargetModules.Of("lin1"), config.FeedforwardModules);
        var lin0 = peft.Model.GetSubmodule<Ia3Layer>("lin0");
        var expected = lin0.Vectors["a"].Data.ToFloatArray().Zip(lin0.Vectors["c"].Data.ToFloatArray(), (p, q) => 0.5f * p - 2.0f * q).ToArray();
        TestData.AssertClose(expected.Select(v => (double)v).ToArray(), lin0.Vectors["mix"].Data.ToDoubleArray(), 1e-6, 1e-6);
        var lin1 = peft.Model.GetSubmodule<Ia3Layer>("lin1");
        var expected1 = lin1.Vectors["a"].Data.ToFloatArray().Zip(lin1.Vectors["c"].Data.ToFloatArray(), (p, q) => 0.5f * p - 2.0f * q).ToArray();
        TestData.AssertClose(expected1.Select(v => (double)v).ToArray(), lin1.Vectors["mix"].Data.ToDoubleArray(), 1e-6, 1e-6);
        Assert.False(lin0.Vectors["mix"].RequiresGrad);
    }

    [Fact]
    public void ConfigChecksAndDefaultsFollowHf()
    {
        var e = Assert.Throws<ArgumentException>(() => PeftModel.Create(new TestMlp(new Generator(1)),
            new Ia3Config { TargetModules = TargetModules.Of("lin0"), FeedforwardModules = TargetModules.Of("lin1") }));
        Assert.Contains("`feedforward_modules` should be a subset of `target_modules`", e.Message);
        e = Assert.Throws<ArgumentException>(() => PeftModel.Create(new TestMlp(new Generator(1)), new Ia3Config()));
        Assert.Contains("Please specify `target_modules` in `peft_config`", e.Message);
        e = Assert.Throws<ArgumentException>(() => PeftModel.Create(new TestMlp(new Generator(1)), new Ia3Config { TargetModules = TargetModules.Of("lin0") }));
        Assert.Contains("Please specify `feedforward_modules` in `peft_config`", e.Message);
        // HF tests feed-forward names with str.endswith (no dot boundary)
        Assert.True(new Ia3Config { FeedforwardModules = TargetModules.Of("c_proj") }.IsFeedforward("transformer.h.0.mlp.c_proj"));
        Assert.True(new Ia3Config { FeedforwardModules = TargetModules.Of("proj") }.IsFeedforward("model.layers.0.mlp.down_proj"));
        Assert.False(new Ia3Config { FeedforwardModules = "mlp\\..*" }.IsFeedforward("model.layers.0.mlp.down_proj"));
    }

    [Fact]
    public void SavedFileHasHfKeysShapesAndConfig()
    {
        var dir = TempDir();
        try
        {
            using (var peft = PeftModel.Create(TestGpt2.Create(new Generator(1)), new Ia3Config { InitIa3Weights = false }, "default", new Generator(2)))
                peft.SavePretrained(dir);
            using (var f = SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors")))
            {
                var expected = new[] { 0, 1 }.SelectMany(i => new[]
                {
                    ($"base_model.model.transformer.h.{i}.attn.c_attn.ia3_l", new Shape(48, 1)),
                    ($"base_model.model.transformer.h.{i}.mlp.c_proj.ia3_l", new Shape(1, 64)),
                }).ToDictionary(t => t.Item1, t => t.Item2);
                Assert.Equal(expected.Keys.Order(), f.Keys.Order());
                foreach (var (k, shape) in expected) Assert.Equal(shape, new Shape(f.Info(k).Shape));
            }
            var json = File.ReadAllText(Path.Combine(dir, "adapter_config.json"));
            foreach (var key in new[] { "\"peft_type\": \"IA3\"", "\"fan_in_fan_out\": true", "\"init_ia3_weights\": false", "\"feedforward_modules\": [", "\"target_modules\": [" })
                Assert.Contains(key, json);
            var config = Assert.IsType<Ia3Config>(AdapterConfigJson.Parse(json));
            Assert.Equal(TargetModules.Of("c_attn", "mlp.c_proj"), config.TargetModules);
            Assert.Equal(TargetModules.Of("mlp.c_proj"), config.FeedforwardModules);
            Assert.DoesNotContain("exclude_modules", AdapterConfigJson.Write(config, new Version(0, 13, 0)));
            Assert.DoesNotContain("peft_version", AdapterConfigJson.Write(config, new Version(0, 17, 0)));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void TrainingLowersTheLanguageModelLoss()
    {
        using var peft = PeftModel.ForCausalLm(TestLlama.Create(new Generator(1)), new Ia3Config());
        using var ids = TestLlama.Input();
        using var opt = new PeftEngine.Nn.Optim.AdamW(peft.Parameters().Where(p => p.RequiresGrad).ToList(), lr: 0.05);
        var (first, last) = TrainLanguageModel(peft, opt, ids, 15);
        Assert.True(last < first - 0.05, $"IA3 training: loss {first} -> {last}");
    }
}
