using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;
using PeftEngine.Peft;
using PeftEngine.Peft.Adapters;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Serialization;
using PeftEngine.Peft.Tuners;
using Xunit.Abstractions;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>The math of the bottleneck adapters (Houlsby series, He et al. parallel) and of AdapterFusion: parameter
/// counts, hand-computed outputs, identity at init, placement, training, fusion and the file format.</summary>
public class AdapterMathTests(ITestOutputHelper output)
{
    /// <summary>One Linear(2, 2) named <c>lin</c>, so an adapter's output can be computed by hand.</summary>
    private sealed class OneLinear : Module
    {
        public OneLinear(float[] weight)
        {
            var lin = RegisterModule("lin", new Linear(2, 2));
            using var w = Tensor.FromArray(weight, 2, 2);
            using (GradMode.Disable())
            {
                Ops.CopyInPlace(lin.Weight, w);
                Ops.FillInPlace(lin.Bias!, 0);
            }
        }

        public override Tensor Forward(Tensor x) => GetChild("lin").Forward(x);
    }

    private static BottleneckLayer Layer(PeftModel peft, string path) =>
        (BottleneckLayer)peft.TunerLayers().Single(l => l.Path == path).Layer;

    private static void Set(Parameter p, float[] values, params int[] shape)
    {
        using var t = Tensor.FromArray(values, shape);
        using (GradMode.Disable()) Ops.CopyInPlace(p, t);
    }

    private static List<BottleneckLayer> BottleneckLayers(PeftModel peft) => peft.TunerLayers().Select(l => l.Layer).OfType<BottleneckLayer>().ToList();

    [Theory]
    [InlineData(false, new[] { 1.2, -0.6, 29.2, -7.6 })]   // series:   h = W x, h + 2·(relu(h·W_downᵀ + b_down)·W_upᵀ + b_up)
    [InlineData(true, new[] { 2.2, -2.6, 31.2, -5.6 })]    // parallel: W x + 2·(relu(x·W_downᵀ + b_down)·W_upᵀ + b_up)
    public void HandComputedOutput(bool parallel, double[] expected)
    {
        // series: base W = I; parallel: base W = diag(2, 3); adapter W_down = [1 2], b_down = 0.5, W_up = [3; −1],
        // b_up = (0.1, 0.2), s = 2, ReLU. x1 = (1, −1): pre-activation 1 − 2 + 0.5 = −0.5 → 0, so only 2·b_up is
        // added: series (1, −1) + (0.2, 0.4); parallel (2, −3) + (0.2, 0.4). x2 = (2, 1): 2 + 2 + 0.5 = 4.5,
        // 4.5·(3, −1) + (0.1, 0.2) = (13.6, −4.3), doubled (27.2, −8.6): series (2, 1) + …, parallel (4, 3) + ….
        var model = new OneLinear(parallel ? [2, 0, 0, 3] : [1, 0, 0, 1]);
        using var peft = PeftModel.Create(model, new BottleneckConfig
        {
            TargetModules = TargetModules.Of("lin"), BottleneckSize = 1, NonLinearity = "relu", Scaling = 2, UseParallelAdapter = parallel,
        });
        var layer = Layer(peft, "lin");
        Set(layer.AdapterDown["default"].Weight, [1, 2], 1, 2);
        Set(layer.AdapterDown["default"].Bias!, [0.5f], 1);
        Set(layer.AdapterUp["default"].Weight, [3, -1], 2, 1);
        Set(layer.AdapterUp["default"].Bias!, [0.1f, 0.2f], 2);
        using var x = Tensor.FromArray(new float[] { 1, -1, 2, 1 }, 2, 2);
        TestData.AssertClose(expected, Run(peft, x), 1e-5, 1e-6, parallel ? "parallel adapter" : "series adapter");
    }

    [Fact]
    public void ParameterCountsEqualTheFormulas()
    {
        // tiny LLaMA: d = 16, 2 layers. Each adapter has W_down (m×d), b_down (m), W_up (d×m), b_up (d): 2·d·m + d + m.
        const int d = 16, m = 4;
        long perAdapter = 2 * d * m + d + m;
        using var houlsby = PeftModel.Create(TestLlama.Create(new Generator(1)), BottleneckConfig.Houlsby(bottleneckSize: m) with { TargetModules = TargetModules.Of("o_proj", "mlp") });
        Assert.Equal(4 * perAdapter, houlsby.GetNbTrainableParameters().Trainable);   // 2 layers × (attention, FFN)
        Assert.All(BottleneckLayers(houlsby), l => Assert.Equal(m, l.Bottleneck("default")));

        // reduction factor: m = ⌊d / 4⌋ = 4
        using var reduced = PeftModel.Create(TestLlama.Create(new Generator(1)), new BottleneckConfig { TargetModules = TargetModules.Of("mlp"), ReductionFactor = 4 });
        Assert.Equal(2 * perAdapter, reduced.GetNbTrainableParameters().Trainable);

        // parallel beside GPT-2's MLP: input and output width 16
        using var parallel = PeftModel.Create(TestGpt2.Create(new Generator(1)), BottleneckConfig.Parallel(bottleneckSize: m) with { TargetModules = TargetModules.Of("mlp") });
        Assert.Equal(2 * perAdapter, parallel.GetNbTrainableParameters().Trainable);

        // a dropout target takes the width of the projection before it (GPT-2 attn.c_proj: 16; BERT dense: 16)
        using var gpt2 = PeftModel.Create(TestGpt2.Create(new Generator(1)), new BottleneckConfig { TargetModules = TargetModules.Of("attn.resid_dropout"), BottleneckSize = 3 });
        Assert.Equal(2 * (2 * d * 3 + d + 3), gpt2.GetNbTrainableParameters().Trainable);
        using var bert = PeftModel.Create(TestBert.Create(new Generator(1)), BottleneckConfig.Houlsby(bottleneckSize: 2) with { TargetModules = TargetModules.Of("output.dropout") });
        Assert.Equal(4 * (2 * d * 2 + d + 2), bert.GetNbTrainableParameters().Trainable);   // 2 layers × (attention.output, output)

        // fusion: W_Q, b_Q, W_K, b_K, W_V = 3·d² + 2·d per fused sub-layer
        houlsby.AddAdapter("b", BottleneckConfig.Houlsby(bottleneckSize: m) with { TargetModules = TargetModules.Of("mlp") });
        houlsby.AddAdapter("fusion", new AdapterFusionConfig { Adapters = ["default", "b"] });
        houlsby.SetAdapter("fusion");
        Assert.Equal(2 * (3 * d * d + 2 * d), houlsby.GetNbTrainableParameters().Trainable);   // only the two mlp sites hold both
    }

    [Fact]
    public void DefaultTargetsAreThePapersPlacements()
    {
        using var llama = PeftModel.Create(TestLlama.Create(new Generator(1)), BottleneckConfig.Houlsby(bottleneckSize: 2));
        Assert.Equal(["model.layers.0.self_attn.o_proj", "model.layers.0.mlp", "model.layers.1.self_attn.o_proj", "model.layers.1.mlp"],
            llama.TunerLayers().Select(l => l.Path).ToList());
        using var gpt2 = PeftModel.Create(TestGpt2.Create(new Generator(1)), BottleneckConfig.Parallel(bottleneckSize: 2));
        Assert.Equal(["transformer.h.0.mlp", "transformer.h.1.mlp"], gpt2.TunerLayers().Select(l => l.Path).ToList());
        using var bert = PeftModel.Create(TestBert.Create(new Generator(1)), BottleneckConfig.Houlsby(bottleneckSize: 2));
        Assert.Equal(["encoder.layer.0.attention.output.dropout", "encoder.layer.0.output.dropout", "encoder.layer.1.attention.output.dropout", "encoder.layer.1.output.dropout"],
            bert.TunerLayers().Select(l => l.Path).ToList());
        // BERT has no single module for a parallel FFN adapter; a dropout has no input width for one either
        Assert.Throws<ArgumentException>(() => PeftModel.Create(TestBert.Create(new Generator(1)), BottleneckConfig.Parallel(bottleneckSize: 2)));
        var e = Assert.Throws<NotSupportedException>(() => PeftModel.Create(TestBert.Create(new Generator(1)),
            BottleneckConfig.Parallel(bottleneckSize: 2) with { TargetModules = TargetModules.Of("output.dropout") }));
        Assert.Contains("parallel adapter", e.Message);
    }

    [Fact]
    public void HoulsbyInitIsNearIdentityAndMamInitIsExact()
    {
        using var reference = TestLlama.Create(new Generator(3));
        using var ids = TestLlama.Input();
        var baseOut = Run(reference, ids);
        double scale = baseOut.Max(Math.Abs);
        using var houlsby = PeftModel.Create(TestLlama.Create(new Generator(3)), BottleneckConfig.Houlsby(bottleneckSize: 4), "default", new Generator(4));
        var near = Run(houlsby, ids);
        double diff = MaxAbsDiff(baseOut, near);
        Assert.True(diff > 0 && diff < 1e-2 * scale, $"Houlsby init: max difference {diff:E2} against logits up to {scale:F2}");
        // every weight inside the truncation interval ±2σ = ±0.02, biases zero
        foreach (var layer in BottleneckLayers(houlsby))
        {
            Assert.All(layer.AdapterDown["default"].Weight.Data.ToFloatArray().Concat(layer.AdapterUp["default"].Weight.Data.ToFloatArray()),
                v => Assert.InRange(v, -0.02f, 0.02f));
            Assert.All(layer.AdapterUp["default"].Bias!.Data.ToFloatArray(), v => Assert.Equal(0f, v));
        }
        using var exact = PeftModel.Create(TestLlama.Create(new Generator(3)), BottleneckConfig.Parallel(bottleneckSize: 4), "default", new Generator(4));
        TestData.AssertClose(baseOut, Run(exact, ids), 0, 0, "W_up = 0");
    }

    [Fact]
    public void DropoutAndProjectionWrapPointsAgreeWithoutDropout()
    {
        // GPT-2 attention: the adapter after attn.resid_dropout (the paper's place) equals the adapter after attn.c_proj
        // when dropout is off; the output differs from the base
        using var ids = TestGpt2.Input();
        double[] Out(string target)
        {
            using var peft = PeftModel.Create(TestGpt2.Create(new Generator(2)),
                new BottleneckConfig { TargetModules = TargetModules.Of(target), BottleneckSize = 4, InitWeights = BottleneckInit.Bert }, "default", new Generator(6));
            return Run(peft, ids);
        }
        var afterDropout = Out("attn.resid_dropout");
        TestData.AssertClose(afterDropout, Out("attn.c_proj"), 1e-5, 1e-5, "resid_dropout vs c_proj");
        using var reference = TestGpt2.Create(new Generator(2));
        AssertDiffers(Run(reference, ids), afterDropout, 1e-4, "adapter vs base");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainingOnTheTinyLlamaLowersTheLoss(bool parallel)
    {
        var config = parallel ? BottleneckConfig.Parallel(bottleneckSize: 8) : BottleneckConfig.Houlsby(bottleneckSize: 8);
        using var peft = PeftModel.ForCausalLm(TestLlama.Create(new Generator(8)), config, "default", new Generator(9));
        using var ids = TestLlama.Input();
        using var opt = new AdamW(peft.Parameters().Where(p => p.RequiresGrad).ToList(), 1e-2);
        var (first, last) = TrainLanguageModel(peft, opt, ids, steps: 15);
        output.WriteLine($"{(parallel ? "parallel" : "Houlsby")} adapter, tiny LLaMA, AdamW 1e-2, 15 steps: loss {first:F4} -> {last:F4}");
        Assert.True(last < first - 0.1, $"loss {first:F4} -> {last:F4}");
        Assert.All(peft.NamedParameters().Where(np => !np.Name.Contains(".adapter_")), np => Assert.Null(np.Parameter.Grad));
    }

    [Fact]
    public void BottleneckComputesInF32OnABf16SubLayerOutput()
    {
        using var peft = PeftModel.Create(TestLlama.Create(new Generator(1)), new BottleneckConfig { TargetModules = TargetModules.Of("o_proj"), BottleneckSize = 2, InitWeights = BottleneckInit.Bert });
        var layer = BottleneckLayers(peft)[0];
        using var h = Tensor.FromArray(Enumerable.Range(0, 32).Select(i => MathF.Sin(i)).ToArray(), 2, 16);
        using var hb = h.To(DType.BF16);
        using var fromF32 = layer.AdapterOutput("default", h);
        using var fromBf16 = layer.AdapterOutput("default", hb);
        Assert.Equal(DType.F32, fromBf16.DType);
        TestData.AssertClose(fromF32.ToDoubleArray(), fromBf16.ToDoubleArray(), 1e-2, 1e-2, "bf16 input");
    }

    [Fact]
    public void ConfigJsonRoundTripsAndFileKeysFollowHfNaming()
    {
        var config = new BottleneckConfig
        {
            TargetModules = TargetModules.Of("mlp"), BottleneckSize = 6, ReductionFactor = 8, NonLinearity = "relu", AdapterDropout = 0.1,
            UseParallelAdapter = true, Scaling = 4, InitWeights = BottleneckInit.MamAdapter, LayersToTransform = [1], TaskType = "CAUSAL_LM",
        };
        var text = AdapterConfigJson.Write(config);
        Assert.Contains("\"peft_type\": \"BOTTLENECK\"", text);
        Assert.Contains("\"scaling\": 4.0", text);
        var back = (BottleneckConfig)AdapterConfigJson.Parse(text);
        Assert.Equal(config with { TargetModules = back.TargetModules, LayersToTransform = back.LayersToTransform, InferenceMode = true }, back);
        Assert.Equal(["mlp"], back.TargetModules!.Names);
        Assert.Equal([1], back.LayersToTransform!);

        var fusion = new AdapterFusionConfig { Adapters = ["a", "b"], Temperature = 2 };
        var fusionBack = (AdapterFusionConfig)AdapterConfigJson.Parse(AdapterConfigJson.Write(fusion));
        Assert.Equal(["a", "b"], fusionBack.Adapters);
        Assert.Equal(2, fusionBack.Temperature);

        var dir = TempDir();
        try
        {
            using (var peft = PeftModel.Create(TestGpt2.Create(new Generator(1)), BottleneckConfig.Houlsby(bottleneckSize: 2) with { TargetModules = TargetModules.Of("attn.resid_dropout", "mlp") }))
                peft.SavePretrained(dir);
            using var file = PeftEngine.IO.Safetensors.SafetensorsFile.Open(Path.Combine(dir, PeftModel.WeightsFileName));
            var keys = file.Keys.Order(StringComparer.Ordinal).ToList();
            Assert.Equal(16, keys.Count);
            Assert.Contains("base_model.model.transformer.h.0.attn.resid_dropout.adapter_down.weight", keys);
            Assert.Contains("base_model.model.transformer.h.1.mlp.adapter_up.bias", keys);
            Assert.Equal([2, 16], file.Info("base_model.model.transformer.h.0.mlp.adapter_down.weight").Shape);
            Assert.Equal([16, 2], file.Info("base_model.model.transformer.h.0.mlp.adapter_up.weight").Shape);
        }
        finally { Directory.Delete(dir, true); }
    }
    [Fact]
    public void CoexistsWithLoraWhichStillMerges()
    {
        // LoRA on the attention projections and a Houlsby adapter on the MLP, both active: merging the LoRA adapter
        // works and keeps the output; merging the bottleneck adapter is refused
        using var ids = TestLlama.Input();
        using var peft = PeftModel.Create(TestLlama.Create(new Generator(2)),
            new LoraConfig { TargetModules = TargetModules.Of("q_proj", "v_proj"), InitLoraWeights = LoraInit.Random }, "lora", new Generator(3));
        peft.AddAdapter("bn", new BottleneckConfig { TargetModules = TargetModules.Of("mlp"), BottleneckSize = 4, InitWeights = BottleneckInit.Bert }, new Generator(4));
        peft.SetAdapter("lora", "bn");
        var both = Run(peft, ids);
        peft.SetAdapter("lora");
        var loraOnly = Run(peft, ids);
        AssertDiffers(both, loraOnly, 1e-5, "bottleneck adds to the LoRA output");
        peft.SetAdapter("lora", "bn");
        Assert.Throws<NotSupportedException>(() => peft.MergeAdapter(["bn"]));
        peft.MergeAdapter(["lora"]);
        TestData.AssertClose(both, Run(peft, ids), 1e-4, 1e-4, "LoRA merged, bottleneck still applied");
        using var plain = peft.Unload();
        using var reference = TestLlama.Create(new Generator(2));
        TestData.AssertClose(Run(reference, ids), Run(plain, ids), 1e-4, 1e-4, "unload restores the base");
    }
    [Fact]
    public void HoulsbyWithLayerNormsTrainsSavesAndLoadsTheNorms()
    {
        // the paper trains every layer norm too: LLaMA has 2 RMSNorms per layer and a final one, 16 weights each
        const int d = 16, m = 4;
        var dir = TempDir();
        try
        {
            using var ids = TestLlama.Input();
            double[] expected;
            using (var peft = PeftModel.ForCausalLm(TestLlama.Create(new Generator(8)), BottleneckConfig.Houlsby(bottleneckSize: m, trainLayerNorms: true), "default", new Generator(9)))
            {
                Assert.Equal(4 * (2 * d * m + d + m) + 5 * d, peft.GetNbTrainableParameters().Trainable);
                Assert.True(peft.NamedParameters().Single(np => np.Name.EndsWith("model.norm.weight", StringComparison.Ordinal)).Parameter.RequiresGrad);
                var e = Assert.Throws<ArgumentException>(() => peft.AddAdapter("second", BottleneckConfig.Houlsby(bottleneckSize: m, trainLayerNorms: true)));
                Assert.Contains("only one adapter may train the layer norms", e.Message);
                using var opt = new AdamW(peft.Parameters().Where(p => p.RequiresGrad).ToList(), 1e-2);
                var (first, last) = TrainLanguageModel(peft, opt, ids, steps: 5);
                Assert.True(last < first, $"loss {first:F4} -> {last:F4}");
                expected = Run(peft, ids);
                peft.SavePretrained(dir);
            }
            using (var file = PeftEngine.IO.Safetensors.SafetensorsFile.Open(Path.Combine(dir, PeftModel.WeightsFileName)))
            {
                Assert.Contains("base_model.model.model.norm.weight", file.Keys);
                Assert.Contains("base_model.model.model.layers.1.post_attention_layernorm.weight", file.Keys);
                Assert.Equal(16 + 5, file.Keys.Count());
            }
            Assert.Contains("\"train_layer_norms\": true", File.ReadAllText(Path.Combine(dir, "adapter_config.json")));
            using var loaded = PeftModel.FromPretrained(TestLlama.Create(new Generator(8)), dir);
            TestData.AssertClose(expected, Run(loaded, ids), 0, 0, "reloaded adapter and norms");
        }
        finally { Directory.Delete(dir, true); }
    }
}
