using PeftEngine.Nn;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>LoRA's svd weighted combination and the PiSSA -> plain LoRA export.</summary>
public class LoraSvdPissaTests
{
    private static PeftModel TwoAdapters()
    {
        var peft = PeftModel.Create(new TestMlp(new Generator(1)),
            new LoraConfig { TargetModules = TargetModules.Of("lin0", "lin1"), R = 2, LoraAlpha = 6, InitLoraWeights = LoraInit.Random }, "a", new Generator(2));
        peft.AddAdapter("b", new LoraConfig { TargetModules = TargetModules.Of("lin0"), R = 3, LoraAlpha = 3, InitLoraWeights = LoraInit.Random }, new Generator(3));
        peft.Eval();
        return peft;
    }

    /// <summary>M = Σ wᵢ·ΔWᵢ (out, in) of the layer in double.</summary>
    private static double[] Combined(LoraLayer layer, string[] adapters, double[] weights)
    {
        double[]? sum = null;
        for (int i = 0; i < adapters.Length; i++)
        {
            if (!layer.AdapterNames.Contains(adapters[i])) continue;
            using var d = layer.DeltaWeight(adapters[i]);
            var v = d.ToDoubleArray();
            sum ??= new double[v.Length];
            for (int j = 0; j < v.Length; j++) sum[j] += weights[i] * v[j];
        }
        return sum!;
    }

    [Fact]
    public void SvdAtFullRankIsExact()
    {
        using var peft = TwoAdapters();
        peft.AddWeightedAdapter(["a", "b"], [0.7, -1.5], "svd", "svd", svdRank: 5);
        var lin0 = peft.Model.GetSubmodule<LoraLayer>("lin0");
        Assert.Equal(5, lin0.Rank["svd"]);
        Assert.Equal(1.0, lin0.Scaling["svd"]);
        using var got = lin0.DeltaWeight("svd");
        // rank(0.7·ΔW_a − 1.5·ΔW_b) ≤ 2 + 3 = 5: the rank-5 truncation loses nothing
        TestData.AssertClose(Combined(lin0, ["a", "b"], [0.7, -1.5]), got.ToDoubleArray(), 1e-5, 1e-5, "lin0");
        var lin1 = peft.Model.GetSubmodule<LoraLayer>("lin1");
        using var got1 = lin1.DeltaWeight("svd");
        TestData.AssertClose(Combined(lin1, ["a", "b"], [0.7, -1.5]), got1.ToDoubleArray(), 1e-5, 1e-5, "lin1 (only a)");
    }

    [Fact]
    public void SvdTruncationIsTheBestLowRankApproximation()
    {
        using var peft = TwoAdapters();
        peft.AddWeightedAdapter(["a", "b"], [1.0, 1.0], "svd", "svd");          // default rank: the largest, 3
        var lin0 = peft.Model.GetSubmodule<LoraLayer>("lin0");
        Assert.Equal(3, lin0.Rank["svd"]);
        var m = Combined(lin0, ["a", "b"], [1.0, 1.0]);
        using var mt = Tensor.FromArray(m, 20, 10);
        using var sv = Linalg.SvdVals(mt);
        var s = sv.ToDoubleArray();
        using var got = lin0.DeltaWeight("svd");
        // Eckart–Young: ‖M − M₃‖²_F = Σ_{j>3} σⱼ², and the kept part has the top three singular values
        double residual = m.Zip(got.ToDoubleArray(), (p, q) => (p - q) * (p - q)).Sum();
        Assert.Equal(s.Skip(3).Sum(v => v * v), residual, 4);
        using var gs = Linalg.SvdVals(got);
        TestData.AssertClose(s.Take(3).ToArray(), gs.ToDoubleArray().Take(3).ToArray(), 1e-4, 1e-4, "kept singular values");
    }

    [Fact]
    public void SvdClampLimitsTheFactorEntries()
    {
        using var peft = TwoAdapters();
        peft.AddWeightedAdapter(["a", "b"], [1.0, 1.0], "clamped", "svd", svdRank: 2, svdClamp: 0.9);
        var (a, b) = peft.Model.GetSubmodule<LoraLayer>("lin0").Factors("clamped");
        var entries = a.Data.ToDoubleArray().Concat(b.Data.ToDoubleArray()).ToArray();
        double max = entries.Max(Math.Abs);
        Assert.True(entries.Count(v => Math.Abs(Math.Abs(v) - max) < 1e-7) >= 2, "the largest entries are clipped to one value");
        Assert.Equal(2.5, WeightedAdapter.Quantile([1, 2, 3, 4], 0.5));              // torch.quantile: linear interpolation
        Assert.Equal(3.7, WeightedAdapter.Quantile([4, 1, 3, 2], 0.9), 12);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PissaConvertedToLoraGivesThePissaOutputsOnTheOriginalBase(bool rslora)
    {
        var dir = TempDir();
        try
        {
            using var x = TestMlp.Input();
            var config = new LoraConfig { TargetModules = TargetModules.Of("lin0", "lin1"), R = 2, LoraAlpha = 4, UseRslora = rslora, InitLoraWeights = LoraInit.Pissa };
            double[] trained;
            using (var peft = PeftModel.Create(new TestMlp(new Generator(1)), config))
            {
                peft.SavePretrained(Path.Combine(dir, "init"));                // A₀, B₀ before training
                Train(peft, x, steps: 3, lr: 0.02);
                trained = Run(peft, x);
                peft.SavePretrainedConvertingPissa(Path.Combine(dir, "lora"), Path.Combine(dir, "init"));
            }
            var loaded = PeftModel.LoadConfig(Path.Combine(dir, "lora"));
            var lora = Assert.IsType<LoraConfig>(loaded);
            Assert.Equal(4, lora.R);
            Assert.Equal(LoraInit.Default, lora.InitLoraWeights);
            Assert.Equal(rslora ? 4 * Math.Sqrt(2) : 8, lora.LoraAlpha, 12);
            using var original = new TestMlp(new Generator(1));
            double[] baseOut = Run(original, x);
            using var converted = PeftModel.FromPretrained(original, Path.Combine(dir, "lora"));
            var lin0 = converted.Model.GetSubmodule<LoraLayer>("lin0");
            Assert.Equal(new Shape(4, 10), lin0.Factors("default").A.Shape);
            Assert.Equal(new Shape(20, 4), lin0.Factors("default").B.Shape);
            AssertDiffers(baseOut, trained, 1e-4, "training moved the PiSSA model");
            TestData.AssertClose(trained, Run(converted, x), 1e-5, 1e-5, "converted LoRA on the original base");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void PissaConversionRefusesOtherInitialisations()
    {
        using var peft = PeftModel.Create(new TestMlp(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("lin0") });
        Assert.Contains("not PiSSA", Assert.Throws<ArgumentException>(() => PissaConversion.Convert(peft, "nowhere")).Message);
    }
}
