using PeftEngine.IO.Safetensors;
using PeftEngine.Nn;
using PeftEngine.Peft;
using PeftEngine.Peft.Serialization;
using PeftEngine.Peft.Subset;
using PeftEngine.Peft.Tuners;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>BitFit and LN tuning (parameter-subset training): what trains, the file layout, several adapters and
/// exact restoration of the base values.</summary>
public class SubsetTests
{
    private static long BiasCount(Module m) => m.NamedParameters().Where(np => np.Name.EndsWith(".bias", StringComparison.Ordinal)).Sum(np => np.Parameter.Numel);

    [Fact]
    public void BitFitTrainsExactlyOneCopyOfEveryBias()
    {
        using var reference = TestGpt2.Create(new Generator(1));
        long biases = BiasCount(reference), all = reference.Parameters().Sum(p => p.Numel);
        using var peft = PeftModel.Create(TestGpt2.Create(new Generator(1)), new BitFitConfig());
        var (trainable, total) = peft.GetNbTrainableParameters();
        Assert.Equal(biases, trainable);
        Assert.Equal(all + biases, total);
        // c_attn, c_proj (attn and mlp), c_fc, ln_1, ln_2 per layer, plus ln_f
        Assert.Equal(2 * 6 + 1, peft.TunerLayers().Count(l => l.Layer is BitFitLayer));
        Assert.All(peft.NamedParameters().Where(np => np.Parameter.RequiresGrad), np => Assert.EndsWith(".bitfit.default.bias", np.Name));
    }

    [Fact]
    public void BitFitSubsetOfThePaper()
    {
        // the paper's cheapest variant: the query projection and first MLP projection biases only
        using var peft = PeftModel.Create(TestGpt2.Create(new Generator(1)), new BitFitConfig { TargetModules = TargetModules.Of("c_attn", "c_fc") });
        Assert.Equal(2 * (48 + 64), peft.GetNbTrainableParameters().Trainable);
    }

    [Fact]
    public void BitFitHandComputedShiftAndSeveralAdapters()
    {
        using var peft = PeftModel.Create(new TestMlp(new Generator(1)), new BitFitConfig { TargetModules = TargetModules.Of("lin1") });
        peft.AddAdapter("other", new BitFitConfig { TargetModules = TargetModules.Of("lin1") });
        var layer = peft.Model.GetSubmodule<BitFitLayer>("lin1");
        var b = ((Linear)layer.BaseLayer).Bias!.Data.ToFloatArray();
        using (GradMode.Disable())
        {
            using var d = Tensor.FromArray(new float[] { b[0] + 1, b[1] }, 2);
            Ops.CopyInPlace(((BiasHolder)layer.Copies["default"]).Bias, d);
            using var o = Tensor.FromArray(new float[] { b[0], b[1] - 2 }, 2);
            Ops.CopyInPlace(((BiasHolder)layer.Copies["other"]).Bias, o);
        }
        using var x = TestMlp.Input();
        double[] logits(PeftModel p)
        {
            // log-softmax output: the shift of lin1's bias moves the logits, so compare differences of the two classes
            var y = Run(p, x);
            return Enumerable.Range(0, y.Length / 2).Select(i => y[2 * i] - y[2 * i + 1]).ToArray();
        }
        double[] baseGap;
        using (peft.DisableAdapter()) baseGap = logits(peft);
        TestData.AssertClose(baseGap.Select(g => g + 1).ToArray(), logits(peft), 1e-5, 1e-5, "b + [1, 0]");
        peft.SetAdapter("default", "other");
        TestData.AssertClose(baseGap.Select(g => g + 3).ToArray(), logits(peft), 1e-5, 1e-5, "b + [1, 0] + [0, −2]");
        peft.MergeAdapter();
        var merged = ((Linear)layer.BaseLayer).Bias!.Data.ToFloatArray();
        Assert.Equal(b[0] + 1, merged[0], 5);
        Assert.Equal(b[1] - 2, merged[1], 5);
        peft.UnmergeAdapter();
        Assert.Equal(b, ((Linear)layer.BaseLayer).Bias!.Data.ToFloatArray());   // the stashed originals, bit for bit
    }

    [Fact]
    public void BitFitFileHoldsTheTunedBiasesUnderTheBaseKeys()
    {
        var dir = TempDir();
        try
        {
            float[] tuned;
            using (var peft = PeftModel.Create(new TestMlp(new Generator(1)), new BitFitConfig { InitWeights = false }, "default", new Generator(2)))
            {
                tuned = ((BiasHolder)peft.Model.GetSubmodule<BitFitLayer>("lin0").Copies["default"]).Bias.Data.ToFloatArray();
                peft.SavePretrained(dir);
            }
            using (var f = SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors")))
            {
                Assert.Equal(["base_model.model.lin0.bias", "base_model.model.lin1.bias"], f.Keys.Order());
                using var t = f.Load("base_model.model.lin0.bias");
                Assert.Equal(tuned, t.ToFloatArray());
            }
            var json = File.ReadAllText(Path.Combine(dir, "adapter_config.json"));
            Assert.Contains("\"peft_type\": \"BITFIT\"", json);
            Assert.Contains("\"target_modules\": null", json);
            Assert.IsType<BitFitConfig>(AdapterConfigJson.Parse(json));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void BitFitOnAModelWithoutBiasesSaysSo()
    {
        var e = Assert.Throws<ArgumentException>(() => PeftModel.Create(TestLlama.Create(new Generator(1)), new BitFitConfig()));
        Assert.Contains("no module with a bias", e.Message);
    }

    [Fact]
    public void LnTuningKeysAndCountsFollowHf()
    {
        var dir = TempDir();
        try
        {
            using (var gpt2 = PeftModel.Create(TestGpt2.Create(new Generator(1)), new LnTuningConfig()))
            {
                Assert.Equal(5 * 2 * 16, gpt2.GetNbTrainableParameters().Trainable);   // ln_1, ln_2 × 2 layers + ln_f, γ and β
                gpt2.SavePretrained(dir);
            }
            using (var f = SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors")))
            {
                Assert.Contains("base_model.model.transformer.h.0.ln_1.ln_tuning_layers.weight", f.Keys);
                Assert.Contains("base_model.model.transformer.h.1.ln_2.ln_tuning_layers.bias", f.Keys);
                Assert.Contains("base_model.model.transformer.ln_f.ln_tuning_layers.weight", f.Keys);
                Assert.Equal(10, f.Keys.Count());
            }
            var json = File.ReadAllText(Path.Combine(dir, "adapter_config.json"));
            Assert.Contains("\"peft_type\": \"LN_TUNING\"", json);
            Assert.Equal(TargetModules.Of("ln_1", "ln_2", "ln_f"), Assert.IsType<LnTuningConfig>(AdapterConfigJson.Parse(json)).TargetModules);
        }
        finally { Directory.Delete(dir, true); }
        using var llama = PeftModel.Create(TestLlama.Create(new Generator(1)), new LnTuningConfig());
        Assert.Equal(5 * 16, llama.GetNbTrainableParameters().Trainable);             // 2 × 2 RMSNorm γ + final norm
        Assert.IsType<LnTuningLayer>(llama.Model.GetSubmodule("model.norm"));
        Assert.Contains(llama.NamedParameters(), np => np.Name == "base_model.model.model.layers.0.input_layernorm.ln_tuning_layers.default.weight");
    }

    [Fact]
    public void LnTuningAllowsOneAdapterAtATime()
    {
        using var peft = PeftModel.Create(TestGpt2.Create(new Generator(1)), new LnTuningConfig { InitWeights = false }, "a", new Generator(2));
        peft.AddAdapter("b", new LnTuningConfig { InitWeights = false }, new Generator(3));
        using var x = TestGpt2.Input();
        peft.SetAdapter("a", "b");
        Assert.Contains("more than one adapter", Assert.Throws<InvalidOperationException>(() => Run(peft, x)).Message);
        Assert.Contains("more than one adapter", Assert.Throws<ArgumentException>(() => peft.MergeAdapter()).Message);
        peft.SetAdapter("a");
        var a = Run(peft, x);
        peft.MergeAdapter();
        TestData.AssertClose(a, Run(peft, x), 1e-5, 1e-5, "merged a");
        // the merged γ is exactly the tuned copy's
        var layer = peft.Model.GetSubmodule<LnTuningLayer>("transformer.ln_f");
        Assert.Equal(((LayerNorm)layer.Copies["a"]).Weight!.Data.ToFloatArray(), ((LayerNorm)layer.BaseLayer).Weight!.Data.ToFloatArray());
    }

    [Fact]
    public void SubsetTrainingLowersTheLanguageModelLoss()
    {
        foreach (PeftConfig config in new PeftConfig[] { new LnTuningConfig(), new BitFitConfig() })
        {
            using var peft = PeftModel.ForCausalLm(TestGpt2.Create(new Generator(1)), config);
            using var ids = TestGpt2.Input();
            using var opt = new PeftEngine.Nn.Optim.AdamW(peft.Parameters().Where(p => p.RequiresGrad).ToList(), lr: 0.05);
            var (first, last) = TrainLanguageModel(peft, opt, ids, 15);
            Assert.True(last < first - 0.05, $"{config.PeftType} training: loss {first} -> {last}");
        }
    }
}
