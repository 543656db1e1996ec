using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;
using PeftEngine.Peft;
using PeftEngine.Peft.Adapters;
using PeftEngine.Peft.Tuners;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>AdapterFusion over two series bottleneck adapters: selection, averaging, training only the fusion,
/// deletion rules and save/load.</summary>
public class AdapterFusionTests
{
    private static BottleneckConfig Adapter(string target) =>
        BottleneckConfig.Houlsby(bottleneckSize: 4) with { TargetModules = TargetModules.Of(target), InitWeights = BottleneckInit.Bert };

    /// <summary>The MLP with adapters "a" and "b" on lin0 and a fusion "f" over both, f active.</summary>
    private static PeftModel MlpWithFusion()
    {
        var peft = PeftModel.Create(new TestMlp(new Generator(42)), Adapter("lin0"), "a", new Generator(1));
        peft.AddAdapter("b", Adapter("lin0"), new Generator(2));
        peft.AddAdapter("f", new AdapterFusionConfig { Adapters = ["a", "b"] }, new Generator(3));
        peft.SetAdapter("f");
        return peft;
    }

    private static AdapterFusion Fusion(PeftModel peft, string name) =>
        peft.TunerLayers().Select(l => l.Layer).OfType<BottleneckLayer>().First(l => l.IsFusion(name)).Fusions[name];

    private static void Set(Parameter p, Func<int, int, float> value)
    {
        int rows = p.Data.Shape[0], cols = p.Data.Shape.Rank > 1 ? p.Data.Shape[1] : 1;
        var v = new float[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) v[i * cols + j] = value(i, j);
        using var t = Tensor.FromArray(v, p.Data.Shape.ToArray());
        using (GradMode.Disable()) Ops.CopyInPlace(p, t);
    }

    private static float Identity(int i, int j) => i == j ? 1 : 0;

    [Fact]
    public void AOneHotFusionEqualsTheSelectedAdapterAlone()
    {
        using var peft = MlpWithFusion();
        using var x = TestMlp.Input();
        var layer = (BottleneckLayer)peft.TunerLayers().Single().Layer;
        // make z_a[0] ≈ +50 and z_b[0] ≈ −50; with q = e_0 (W_Q = 0, b_Q = e_0) and k_n = z_n (W_K = I, b_K = 0) the
        // score of a is ~100 above b's, so s = (1, 0) in F32; W_V = I exactly
        Set(layer.AdapterUp["a"].Bias!, (i, _) => i == 0 ? 50 : 0);
        Set(layer.AdapterUp["b"].Bias!, (i, _) => i == 0 ? -50 : 0);
        var f = Fusion(peft, "f");
        Set(f.Query.Weight, (_, _) => 0);
        Set(f.Query.Bias!, (i, _) => i == 0 ? 1 : 0);
        Set(f.Key.Weight, Identity);
        Set(f.Key.Bias!, (_, _) => 0);
        Set(f.Value.Weight, Identity);
        var fused = Run(peft, x);
        peft.SetAdapter("a");
        var aAlone = Run(peft, x);
        TestData.AssertClose(aAlone, fused, 1e-5, 1e-5, "one-hot fusion vs adapter a");
        peft.SetAdapter("b");
        AssertDiffers(Run(peft, x), fused, 1e-3, "fusion vs adapter b");
    }

    [Fact]
    public void EqualScoresAverageTheAdapters()
    {
        // W_Q = 0, b_Q = 0: every score is 0, s = (½, ½), so with W_V = I the fusion adds (z_a + z_b) / 2
        using var peft = PeftModel.Create(TestLlama.Create(new Generator(5)), Adapter("mlp"), "a", new Generator(1));
        peft.AddAdapter("b", Adapter("mlp"), new Generator(2));
        peft.AddAdapter("f", new AdapterFusionConfig { Adapters = ["a", "b"] }, new Generator(3));
        foreach (var layer in peft.TunerLayers().Select(l => l.Layer).OfType<BottleneckLayer>())
        {
            var f = layer.Fusions["f"];
            Set(f.Query.Weight, (_, _) => 0);
            Set(f.Query.Bias!, (_, _) => 0);
            Set(f.Value.Weight, Identity);
            using var h = Tensor.FromArray(Enumerable.Range(0, 48).Select(i => MathF.Cos(i * 0.7f)).ToArray(), 3, 16);
            using var za = layer.AdapterOutput("a", h);
            using var zb = layer.AdapterOutput("b", h);
            using var mixed = f.Mix(h, [za, zb], 1);
            var expected = za.ToDoubleArray().Zip(zb.ToDoubleArray(), (p, q) => (p + q) / 2).ToArray();
            TestData.AssertClose(expected, mixed.ToDoubleArray(), 1e-6, 1e-6, "uniform fusion");
        }
    }

    [Fact]
    public void TrainingTheFusionChangesOnlyTheFusionParameters()
    {
        using var peft = PeftModel.ForCausalLm(TestLlama.Create(new Generator(5)), Adapter("mlp") with { TargetModules = TargetModules.Of("o_proj", "mlp") }, "a", new Generator(1));
        peft.AddAdapter("b", Adapter("mlp"), new Generator(2));
        peft.AddAdapter("f", new AdapterFusionConfig { Adapters = ["a", "b"] }, new Generator(3));
        peft.SetAdapter("f");
        Assert.Equal(["model.layers.0.mlp", "model.layers.1.mlp"],
            peft.TunerLayers().Where(l => ((BottleneckLayer)l.Layer).IsFusion("f")).Select(l => l.Path).ToList());
        foreach (var (n, p) in peft.NamedParameters())
            Assert.True(p.RequiresGrad == n.Contains(".adapter_fusion.f."), $"{n}: requires_grad = {p.RequiresGrad}");
        var before = Snapshot(peft);
        using var ids = TestLlama.Input();
        using var opt = new AdamW(peft.Parameters().Where(p => p.RequiresGrad).ToList(), 1e-2);
        var (first, last) = TrainLanguageModel(peft, opt, ids, steps: 8);
        Assert.True(last < first, $"fusion training loss {first:F4} -> {last:F4}");
        var after = Snapshot(peft);
        foreach (var (n, p) in peft.NamedParameters())
        {
            bool changed = !before[n].SequenceEqual(after[n]);
            Assert.True(changed == p.RequiresGrad, $"{n}: changed = {changed}, trainable = {p.RequiresGrad}");
        }
        using var reg = AdapterFusionTuner.RegularizationLoss(peft, "f");
        Assert.True(reg.Item() > 0, "W_V moved away from the identity, so the regulariser is positive");
    }

    [Fact]
    public void FusedAdaptersCannotBeDeletedBeforeTheFusion()
    {
        using var peft = MlpWithFusion();
        var names = peft.NamedParameters().Select(np => np.Name).ToList();
        var e = Assert.Throws<InvalidOperationException>(() => peft.DeleteAdapter("a"));
        Assert.Contains("fusion \"f\"", e.Message);
        Assert.Equal(names, peft.NamedParameters().Select(np => np.Name).ToList());
        peft.DeleteAdapter("f");
        peft.DeleteAdapter("a");
        Assert.DoesNotContain(peft.NamedParameters(), np => np.Name.Contains(".f.") || np.Name.Contains(".a."));
        Assert.Throws<ArgumentException>(() => peft.AddAdapter("g", new AdapterFusionConfig { Adapters = ["a", "b"] }));
        Assert.Throws<ArgumentException>(() => peft.AddAdapter("g", new AdapterFusionConfig { Adapters = ["b"] }));
    }

    [Fact]
    public void FusionMergeIsRefused()
    {
        using var peft = MlpWithFusion();
        var e = Assert.Throws<NotSupportedException>(() => peft.MergeAdapter());
        Assert.Contains("Merging is not supported", e.Message);
    }

    [Fact]
    public void FusionSavesAndLoadsWithItsAdapters()
    {
        var dir = TempDir();
        try
        {
            double[] expected;
            using var x = TestMlp.Input();
            using (var peft = MlpWithFusion())
            {
                Harness.Train(peft, x);   // moves the fusion away from its init
                expected = Run(peft, x);
                peft.SavePretrained(dir);
            }
            using (var f = PeftEngine.IO.Safetensors.SafetensorsFile.Open(Path.Combine(dir, "f", PeftModel.WeightsFileName)))
                Assert.Equal(["base_model.model.lin0.adapter_fusion.key.bias", "base_model.model.lin0.adapter_fusion.key.weight",
                    "base_model.model.lin0.adapter_fusion.query.bias", "base_model.model.lin0.adapter_fusion.query.weight",
                    "base_model.model.lin0.adapter_fusion.value.weight"], f.Keys.Order(StringComparer.Ordinal).ToList());
            Assert.Contains("\"peft_type\": \"ADAPTER_FUSION\"", File.ReadAllText(Path.Combine(dir, "f", "adapter_config.json")));
            using var loaded = PeftModel.FromPretrained(new TestMlp(new Generator(42)), Path.Combine(dir, "a"), "a");
            loaded.LoadAdapter(Path.Combine(dir, "b"), "b");
            loaded.LoadAdapter(Path.Combine(dir, "f"), "f");
            loaded.SetAdapter("f");
            TestData.AssertClose(expected, Run(loaded, x), 0, 0, "reloaded fusion");
        }
        finally { Directory.Delete(dir, true); }
    }
}
