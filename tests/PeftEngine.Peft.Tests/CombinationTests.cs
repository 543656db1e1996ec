using PeftEngine.Nn;
using PeftEngine.Nn.Optim;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>Several active adapters, weighted combinations (HF TestMultipleActiveAdapters) and LoRA+ groups.</summary>
public class CombinationTests
{
    private static PeftModel TwoAdapters(int r2 = 8, string target2 = "lin0")
    {
        var peft = PeftModel.Create(new TestMlp(new Generator(1)),
            new LoraConfig { TargetModules = TargetModules.Of("lin0", "lin1"), LoraAlpha = 16, InitLoraWeights = LoraInit.Random }, "a", new Generator(2));
        peft.AddAdapter("b", new LoraConfig { TargetModules = TargetModules.Of(target2), R = r2, InitLoraWeights = LoraInit.Random }, new Generator(3));
        peft.Eval();
        return peft;
    }

    [Fact]
    public void CatCombinationEqualsBothAdaptersActive()
    {
        using var peft = TwoAdapters(r2: 3);
        using var x = TestMlp.Input();
        var single = Run(peft, x);
        peft.SetAdapter("a", "b");
        var both = Run(peft, x);
        AssertDiffers(single, both, 1e-5, "two active adapters");
        peft.AddWeightedAdapter(["a", "b"], [1.0, 1.0], "combined", "cat");
        Assert.Equal(8 + 3, peft.Model.GetSubmodule<LoraLayer>("lin0").Rank["combined"]);
        peft.SetAdapter("combined");
        TestData.AssertClose(both, Run(peft, x), 1e-5, 1e-5, "cat == multi-active");

        peft.SetAdapter("a", "b");
        peft.MergeAdapter();
        TestData.AssertClose(both, Run(peft, x), 1e-4, 1e-4, "merged both");
        peft.UnmergeAdapter();
        using (peft.DisableAdapter())
        {
            using var reference = new TestMlp(new Generator(1));
            TestData.AssertClose(Run(reference, x), Run(peft, x), 1e-4, 1e-4, "unmerged and disabled");
        }
    }

    [Fact]
    public void CatWithNegativeWeightsIsTheWeightedSumOfUpdates()
    {
        using var peft = TwoAdapters();
        var layer = peft.Model.GetSubmodule<LoraLayer>("lin0");
        peft.AddWeightedAdapter(["a", "b"], [0.5, -2.0], "mix", "cat");
        using var da = layer.DeltaWeight("a");
        using var db = layer.DeltaWeight("b");
        using var mix = layer.DeltaWeight("mix");
        var expected = da.ToDoubleArray().Zip(db.ToDoubleArray(), (p, q) => 0.5 * p - 2.0 * q).ToArray();
        TestData.AssertClose(expected, mix.ToDoubleArray(), 1e-5, 1e-5);
    }

    [Fact]
    public void LinearCombinationOfOneAdapterWithWeightOneIsThatAdapter()
    {
        using var peft = TwoAdapters();
        using var x = TestMlp.Input();
        var a = Run(peft, x);
        peft.AddWeightedAdapter(["a"], [1.0], "copy", "linear");
        peft.SetAdapter("copy");
        TestData.AssertClose(a, Run(peft, x), 1e-5, 1e-5);
        // two adapters with equal ranks: A and B are combined separately (cross terms are HF's behaviour too)
        peft.AddWeightedAdapter(["a", "b"], [0.7, 0.3], "lin", "linear");
        var layer = peft.Model.GetSubmodule<LoraLayer>("lin0");
        var (ta, _) = layer.Factors("lin");
        var (aa, _) = layer.Factors("a");
        var (ba, _) = layer.Factors("b");
        double sa = Math.Sqrt(0.7 * layer.Scaling["a"]), sb = Math.Sqrt(0.3 * layer.Scaling["b"]);
        var expected = aa.Data.ToDoubleArray().Zip(ba.Data.ToDoubleArray(), (p, q) => sa * p + sb * q).ToArray();
        TestData.AssertClose(expected, ta.Data.ToDoubleArray(), 1e-6, 1e-5);
    }

    [Fact]
    public void CombinationErrorsNameTheProblem()
    {
        using var peft = TwoAdapters(r2: 3);
        Assert.Contains("same r value", Assert.Throws<ArgumentException>(() => peft.AddWeightedAdapter(["a", "b"], [1, 1], "x", "linear")).Message);
        Assert.Contains("combination_type", Assert.Throws<ArgumentException>(() => peft.AddWeightedAdapter(["a", "b"], [1, 1], "x", "ties")).Message);
        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(() => peft.AddWeightedAdapter(["a", "zz"], [1, 1], "x")).Message);
        Assert.Equal(2, peft.PeftConfigs.Count);
    }

    [Fact]
    public void LoraPlusGivesBTheLearningRateRatioTimesA()
    {
        using var peft = PeftModel.Create(new TestMlp(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("lin0"), UseDora = true, ModulesToSave = ["lin1"] });
        var groups = LoraPlus.ParamGroups(peft, lr: 1e-3, loraPlusLrRatio: 16, weightDecay: 0.1);
        var byName = peft.NamedParameters().ToDictionary(np => np.Parameter, np => np.Name);
        string Names(ParamGroup g) => string.Join(" ", g.Parameters.Select(p => byName[p]).Order(StringComparer.Ordinal));
        Assert.Equal(3, groups.Count);
        Assert.Equal((1e-3, 0.1), (groups[0].Lr, groups[0].WeightDecay));
        Assert.Equal("base_model.model.lin0.lora_A.default.weight base_model.model.lin1.modules_to_save.default.weight", Names(groups[0]));
        Assert.Equal((16e-3, 0.1), (groups[1].Lr, groups[1].WeightDecay));
        Assert.Equal("base_model.model.lin0.lora_B.default.weight base_model.model.lin0.lora_magnitude_vector.default.weight", Names(groups[1]));
        Assert.Equal((16e-3, 0.0), (groups[2].Lr, groups[2].WeightDecay));
        Assert.Equal("base_model.model.lin1.modules_to_save.default.bias", Names(groups[2]));
        using var opt = new PeftEngine.Nn.Optim.AdamW(groups, 1e-3);
        Assert.Equal(groups.Sum(g => g.Parameters.Count), peft.Parameters().Count(p => p.RequiresGrad));
    }
}
