using PeftEngine.Nn;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>LoRA and DoRA on hand-computed cases, initialisation, scaling and parameter counts.</summary>
public class LoraMathTests
{
    private sealed class OneLayer : Module
    {
        public OneLayer(Module layer) => RegisterModule("layer", layer);

        public override Tensor Forward(Tensor x) => GetChild("layer").Forward(x);
    }

    private static void Set(Tensor t, params float[] values)
    {
        using var _ = GradMode.Disable();
        using var v = Tensor.FromArray(values, t.Shape.ToArray());
        Ops.CopyInPlace(t, v);
    }

    private static (PeftModel Peft, LoraLayer Layer) Wrap(Module layer, LoraConfig config)
    {
        var peft = PeftModel.Create(new OneLayer(layer), config with { TargetModules = TargetModules.Of("layer") });
        peft.Eval();
        return (peft, peft.Model.GetSubmodule<LoraLayer>("layer"));
    }

    [Fact]
    public void LinearMatchesTheHandComputedUpdate()
    {
        // W = [[1, 2], [3, 4]], b = [0.5, -0.5], A = [[1, -1]], B = [[0.5], [2]], s = α/r = 2, x = [1, 3]
        // base = W·x + b = [7.5, 14.5]; A·x = -2; B·(A·x) = [-1, -4]; y = base + 2·[-1, -4] = [5.5, 6.5]
        var linear = new Linear(2, 2);
        Set(linear.Weight, 1, 2, 3, 4);
        Set(linear.Bias!, 0.5f, -0.5f);
        var (peft, layer) = Wrap(linear, new LoraConfig { R = 1, LoraAlpha = 2 });
        using (peft)
        {
            var (a, b) = layer.Factors("default");
            Set(a, 1, -1);
            Set(b, 0.5f, 2);
            using var x = Tensor.FromArray(new float[] { 1, 3 }, 1, 2);
            Assert.Equal(new double[] { 5.5, 6.5 }, Run(peft, x));
            // ΔW = s·B·A = 2·[[0.5, -0.5], [2, -2]] -> merged W = [[2, 1], [7, 0]]
            peft.MergeAdapter();
            Assert.Equal(new float[] { 2, 1, 7, 0 }, linear.Weight.Data.ToFloatArray());
            Assert.Equal(new double[] { 5.5, 6.5 }, Run(peft, x));
            peft.UnmergeAdapter();
            Assert.Equal(new float[] { 1, 2, 3, 4 }, linear.Weight.Data.ToFloatArray());
        }
    }

    [Fact]
    public void Gpt2Conv1DMergesTheTransposedUpdate()
    {
        // the same numbers with the weight stored (in, out) = Wᵀ = [[1, 3], [2, 4]]
        var conv = new Conv1D(2, 2);
        Set(conv.Weight, 1, 3, 2, 4);
        Set(conv.Bias, 0.5f, -0.5f);
        using var capture = PeftWarnings.Capture();
        var (peft, layer) = Wrap(conv, new LoraConfig { R = 1, LoraAlpha = 2 });
        using (peft)
        {
            Assert.Contains(capture.Messages, m => m.Contains("Setting fan_in_fan_out to True"));
            Assert.True(((LoraConfig)peft.PeftConfigs["default"]).FanInFanOut);
            var (a, b) = layer.Factors("default");
            Assert.Equal(new Shape(1, 2), a.Shape);
            Assert.Equal(new Shape(2, 1), b.Shape);
            Set(a, 1, -1);
            Set(b, 0.5f, 2);
            using var x = Tensor.FromArray(new float[] { 1, 3 }, 1, 2);
            Assert.Equal(new double[] { 5.5, 6.5 }, Run(peft, x));
            peft.MergeAdapter();
            Assert.Equal(new float[] { 2, 7, 1, 0 }, conv.Weight.Data.ToFloatArray());
        }
    }

    [Fact]
    public void EmbeddingAddsTheRowsOfATransposedTimesBTransposed()
    {
        // E = [[1, 1], [2, 2], [3, 3]], A = [[1, 0, -1]] (r=1, num=3), B = [[1], [2]] (dim=2), s = 1
        // id 0: E[0] + A[0,0]·Bᵀ = [2, 3]; id 2: E[2] + A[0,2]·Bᵀ = [2, 1]
        var emb = new Embedding(3, 2);
        Set(emb.Weight, 1, 1, 2, 2, 3, 3);
        var (peft, layer) = Wrap(emb, new LoraConfig { R = 1, LoraAlpha = 1 });
        using (peft)
        {
            var (a, b) = layer.Factors("default");
            Assert.All(a.Data.ToFloatArray(), v => Assert.Equal(0f, v));   // HF: A = 0, B ~ N(0, 1)
            Assert.Contains(b.Data.ToFloatArray(), v => v != 0);
            Set(a, 1, 0, -1);
            Set(b, 1, 2);
            using var ids = Tensor.FromArray(new long[] { 0, 2 }, 1, 2);
            Assert.Equal(new double[] { 2, 3, 2, 1 }, Run(peft, ids));
            peft.MergeAdapter();
            Assert.Equal(new float[] { 2, 3, 2, 2, 2, 1 }, emb.Weight.Data.ToFloatArray());
        }
    }

    [Fact]
    public void DoraMatchesTheWeightDecompositionByHand()
    {
        // W = [[3, 4], [0, 1]] (no bias), A = [[1, 0]], s = 1. At init B = 0 so m = ‖W‖_row = [5, 1].
        // With B = [[1], [0]]: W + BA = [[4, 4], [0, 1]], norms [√32, 1], W' = diag(m / norm)·(W + BA)
        // x = [1, 1]: y = [5/√32 · 8, 1] = [7.0710678, 1]
        var linear = new Linear(2, 2, bias: false);
        Set(linear.Weight, 3, 4, 0, 1);
        var (peft, layer) = Wrap(linear, new LoraConfig { R = 1, LoraAlpha = 1, UseDora = true });
        using (peft)
        {
            Assert.Equal(new float[] { 5, 1 }, layer.MagnitudeVector["default"].Weight.Data.ToFloatArray());
            var (a, b) = layer.Factors("default");
            Set(a, 1, 0);
            Set(b, 1, 0);
            using var x = Tensor.FromArray(new float[] { 1, 1 }, 1, 2);
            TestData.AssertClose(new[] { 40 / Math.Sqrt(32), 1 }, Run(peft, x), 1e-6, 1e-6);
            peft.MergeAdapter();
            float f = (float)(5 / Math.Sqrt(32));
            TestData.AssertClose(new double[] { 4 * f, 4 * f, 0, 1 }, linear.Weight.Data.ToDoubleArray(), 1e-6, 1e-6);
            peft.UnmergeAdapter();
            TestData.AssertClose(new double[] { 3, 4, 0, 1 }, linear.Weight.Data.ToDoubleArray(), 1e-6, 1e-6);
        }
    }

    [Fact]
    public void DoraGradientReachesTheMagnitudeButNotThroughTheNorm()
    {
        // with the norm detached, dy/dm_i = (W + ΔW)_i·x / ‖W + ΔW‖_i exactly (here B = 0: W_i·x / ‖W_i‖)
        var linear = new Linear(2, 2, bias: false);
        Set(linear.Weight, 3, 4, 0, 1);
        var (peft, layer) = Wrap(linear, new LoraConfig { R = 1, LoraAlpha = 1, UseDora = true });
        using (peft)
        {
            peft.Train();
            using var x = Tensor.FromArray(new float[] { 1, 2 }, 1, 2);
            using var y = peft.Forward(x);
            using var sum = Ops.Sum(y);
            sum.Backward();
            TestData.AssertClose(new double[] { 11.0 / 5, 2.0 / 1 }, layer.MagnitudeVector["default"].Weight.Grad!.ToDoubleArray(), 1e-6, 1e-6);
        }
    }

    [Fact]
    public void ScalingIsAlphaOverROrOverRootR()
    {
        using var plain = PeftModel.Create(new TestMlp(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("lin0"), R = 4, LoraAlpha = 8 });
        Assert.Equal(2.0, plain.Model.GetSubmodule<LoraLayer>("lin0").Scaling["default"]);
        using var rs = PeftModel.Create(new TestMlp(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("lin0"), R = 4, LoraAlpha = 8, UseRslora = true });
        Assert.Equal(4.0, rs.Model.GetSubmodule<LoraLayer>("lin0").Scaling["default"]);
    }

    [Fact]
    public void RankAndAlphaPatternsOverridePerModule()
    {
        var config = new LoraConfig
        {
            TargetModules = TargetModules.Of("c_attn", "c_fc"), R = 2, LoraAlpha = 4,
            RankPattern = new Dictionary<string, int> { ["h.1.mlp.c_fc"] = 5 }, AlphaPattern = new Dictionary<string, double> { ["c_attn"] = 3 },
        };
        using var peft = PeftModel.Create(TestGpt2.Create(new Generator(2)), config);
        var fc0 = peft.Model.GetSubmodule<LoraLayer>("transformer.h.0.mlp.c_fc");
        var fc1 = peft.Model.GetSubmodule<LoraLayer>("transformer.h.1.mlp.c_fc");
        var attn = peft.Model.GetSubmodule<LoraLayer>("transformer.h.1.attn.c_attn");
        Assert.Equal((2, 2.0), (fc0.Rank["default"], fc0.Scaling["default"]));
        Assert.Equal((5, 4.0 / 5), (fc1.Rank["default"], fc1.Scaling["default"]));
        Assert.Equal((2, 1.5), (attn.Rank["default"], attn.Scaling["default"]));
    }

    [Fact]
    public void InitialisationsFollowHf()
    {
        var big = new OneLayer(new Linear(400, 50));
        using var peft = PeftModel.Create(big, new LoraConfig { TargetModules = TargetModules.Of("layer"), R = 8 });
        var (a, b) = peft.Model.GetSubmodule<LoraLayer>("layer").Factors("default");
        Assert.All(b.Data.ToFloatArray(), v => Assert.Equal(0f, v));
        var av = a.Data.ToFloatArray();
        double bound = 1 / Math.Sqrt(400);                      // kaiming-uniform(a = √5) on (8, 400)
        Assert.All(av, v => Assert.InRange(v, -bound, bound));
        Assert.InRange(av.Select(v => (double)v * v).Average(), bound * bound / 3 * 0.9, bound * bound / 3 * 1.1);

        peft.AddAdapter("g", new LoraConfig { TargetModules = TargetModules.Of("layer"), R = 8, InitLoraWeights = LoraInit.Gaussian });
        var (ga, gb) = peft.Model.GetSubmodule<LoraLayer>("layer").Factors("g");
        double std = Math.Sqrt(ga.Data.ToFloatArray().Select(v => (double)v * v).Average());
        Assert.InRange(std, 0.125 * 0.95, 0.125 * 1.05);         // N(0, 1/r) means std 1/r = 0.125
        Assert.All(gb.Data.ToFloatArray(), v => Assert.Equal(0f, v));

        peft.AddAdapter("r", new LoraConfig { TargetModules = TargetModules.Of("layer"), R = 8, InitLoraWeights = LoraInit.Random });
        Assert.Contains(peft.Model.GetSubmodule<LoraLayer>("layer").Factors("r").B.Data.ToFloatArray(), v => v != 0);
    }

    [Fact]
    public void ParameterCountsFollowTheFormulas()
    {
        // MLP lin0 (10 -> 20), r = 8: r(in + out) = 240; all = 10·20 + 20 + 20·2 + 2 + 240 = 502
        using var mlp = PeftModel.Create(new TestMlp(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("lin0") });
        Assert.Equal((240L, 502L), mlp.GetNbTrainableParameters());
        Assert.Equal("trainable params: 240 || all params: 502 || trainable%: 47.8088", mlp.PrintTrainableParameters());

        // GPT-2 (n_embd 16, 2 layers): c_attn 16 -> 48, r = 4: 2 · 4 · (16 + 48) = 512; DoRA adds out = 48 per layer
        using var gpt = PeftModel.Create(TestGpt2.Create(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("c_attn"), R = 4 });
        Assert.Equal(512L, gpt.GetNbTrainableParameters().Trainable);
        using var dora = PeftModel.Create(TestGpt2.Create(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("c_attn"), R = 4, UseDora = true });
        Assert.Equal(512L + 2 * 48, dora.GetNbTrainableParameters().Trainable);
        // embedding wpe (32 x 16), r = 2: r · (num + dim) = 96
        using var emb = PeftModel.Create(TestGpt2.Create(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("wpe"), R = 2 });
        Assert.Equal(96L, emb.GetNbTrainableParameters().Trainable);
    }

    [Fact]
    public void BiasOptionsChooseTheTrainedBiases()
    {
        using var all = PeftModel.Create(new TestMlp(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("lin0"), Bias = "all" });
        var trainable = all.NamedParameters().Where(np => np.Parameter.RequiresGrad).Select(np => np.Name).ToList();
        Assert.Contains("base_model.model.lin0.base_layer.bias", trainable);
        Assert.Contains("base_model.model.lin1.bias", trainable);
        var e = Assert.Throws<ArgumentException>(() => all.AddAdapter("second", new LoraConfig { TargetModules = TargetModules.Of("lin1") }));
        Assert.Contains("only 1 adapter with bias", e.Message);
        Assert.Single(all.PeftConfigs);
        Assert.DoesNotContain(all.NamedParameters(), np => np.Name.Contains("second"));

        using var only = PeftModel.Create(new TestMlp(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("lin0"), Bias = "lora_only" });
        var onlyTrainable = only.NamedParameters().Where(np => np.Parameter.RequiresGrad).Select(np => np.Name).ToList();
        Assert.Contains("base_model.model.lin0.base_layer.bias", onlyTrainable);
        Assert.DoesNotContain("base_model.model.lin1.bias", onlyTrainable);
    }

    [Fact]
    public void LoraBiasMergesIntoTheBaseBias()
    {
        var model = new TestMlp(new Generator(1));
        using var peft = PeftModel.Create(model, new LoraConfig { TargetModules = TargetModules.Of("lin0"), LoraBias = true, InitLoraWeights = LoraInit.Random });
        var bB = peft.NamedParameters().Single(np => np.Name.EndsWith("lora_B.default.bias", StringComparison.Ordinal)).Parameter;
        Set(bB, Enumerable.Range(0, 20).Select(i => 0.1f * i).ToArray());
        using var x = TestMlp.Input();
        var before = Run(peft, x);
        peft.MergeAdapter();
        TestData.AssertClose(before, Run(peft, x), 1e-5, 1e-5);
        peft.UnmergeAdapter();
        TestData.AssertClose(before, Run(peft, x), 1e-5, 1e-5);
    }

    [Fact]
    public void Conv1dUpdateIsBTimesAOverEveryKernelTap()
    {
        // ΔW[o, c, k] = s · Σ_r B[o, r, 0] · A[r, c, k]; merged conv == conv + LoRA branch
        var conv = new Conv1d(2, 3, 3, padding: 1, generator: new Generator(4));
        var (peft, layer) = Wrap(conv, new LoraConfig { R = 2, LoraAlpha = 3, InitLoraWeights = LoraInit.Random });
        using (peft)
        {
            var (a, b) = layer.Factors("default");
            Assert.Equal(new Shape(2, 2, 3), a.Shape);
            Assert.Equal(new Shape(3, 2, 1), b.Shape);
            float[] av = a.Data.ToFloatArray(), bv = b.Data.ToFloatArray();
            var expected = new double[3 * 2 * 3];
            for (int o = 0; o < 3; o++)
                for (int c = 0; c < 2; c++)
                    for (int k = 0; k < 3; k++)
                        for (int r = 0; r < 2; r++)
                            expected[(o * 2 + c) * 3 + k] += 1.5 * bv[o * 2 + r] * av[(r * 2 + c) * 3 + k];
            using var delta = layer.DeltaWeight("default");
            TestData.AssertClose(expected, delta.ToDoubleArray(), 1e-6, 1e-5);
            using var x = Tensor.FromArray(Enumerable.Range(0, 2 * 2 * 5).Select(i => MathF.Cos(i)).ToArray(), 2, 2, 5);
            var unmerged = Run(peft, x);
            peft.MergeAdapter();
            TestData.AssertClose(unmerged, Run(peft, x), 1e-5, 1e-5);
        }
    }
}
