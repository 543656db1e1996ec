using PeftEngine.Nn;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Tests;

/// <summary>HF's target-module rules (test_tuners_utils.py) and the errors for bad targets and ranks.</summary>
public class TargetMatchingTests
{
    private static LoraConfig Lora(TargetModules t) => new() { TargetModules = t };

    [Theory]
    [InlineData("lin0", "lin0", true)]
    [InlineData("lin0", "model.lin0", true)]
    [InlineData("lin0", "model.xlin0", false)]
    [InlineData("lin0", "lin0.sub", false)]
    [InlineData("attn.c_attn", "transformer.h.0.attn.c_attn", true)]
    public void NameListMatchesExactNamesAndDottedSuffixes(string target, string key, bool expected) =>
        Assert.Equal(expected, TargetMatcher.IsTarget(Lora(TargetModules.Of(target)), key));

    [Theory]
    [InlineData("lin", "lin0", false)]
    [InlineData(@"lin\d", "lin0", true)]
    [InlineData(@".*c_attn", "transformer.h.0.attn.c_attn", true)]
    [InlineData(@"c_attn", "transformer.h.0.attn.c_attn", false)]
    public void ARegexMustMatchTheWholePath(string pattern, string key, bool expected) =>
        Assert.Equal(expected, TargetMatcher.IsTarget(Lora(pattern), key));

    [Fact]
    public void LayersToTransformFiltersByTheIndexInThePath()
    {
        var config = Lora(TargetModules.Of("c_attn")) with { LayersToTransform = [1] };
        Assert.False(TargetMatcher.IsTarget(config, "transformer.h.0.attn.c_attn"));
        Assert.True(TargetMatcher.IsTarget(config, "transformer.h.1.attn.c_attn"));
        Assert.True(TargetMatcher.IsTarget(config with { LayersPattern = ["h"] }, "transformer.h.1.attn.c_attn"));
        Assert.False(TargetMatcher.IsTarget(config with { LayersPattern = ["layers"] }, "transformer.h.1.attn.c_attn"));
        // HF quirk kept: an exact name match skips the layer filter
        Assert.True(TargetMatcher.IsTarget(Lora(TargetModules.Of("transformer.h.0.attn.c_attn")) with { LayersToTransform = [1] }, "transformer.h.0.attn.c_attn"));
    }

    [Fact]
    public void ExcludeModulesWinsOverTargets()
    {
        using var peft = PeftModel.Create(TestGpt2.Create(new Generator(1)), new LoraConfig
        {
            TargetModules = TargetModules.Of("c_attn", "c_proj"), ExcludeModules = TargetModules.Of("mlp.c_proj"),
        });
        var wrapped = peft.TunerLayers().Select(l => l.Path).ToList();
        Assert.Equal(["transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.1.attn.c_attn", "transformer.h.1.attn.c_proj"], wrapped);
        using var regex = PeftModel.Create(TestGpt2.Create(new Generator(1)), new LoraConfig
        {
            TargetModules = TargetModules.Of("c_attn"), ExcludeModules = @".*h\.0.*",
        });
        Assert.Equal(["transformer.h.1.attn.c_attn"], regex.TunerLayers().Select(l => l.Path).ToList());
    }

    private sealed class WithHead : Module
    {
        public WithHead()
        {
            RegisterModule("body", new Linear(4, 4));
            RegisterModule("norm", new LayerNorm(4));
            RegisterModule("lm_head", new Linear(4, 9));
        }

        public override Tensor Forward(Tensor x)
        {
            using var h = GetChild("body").Forward(x);
            using var n = GetChild("norm").Forward(h);
            return GetChild("lm_head").Forward(n);
        }
    }

    [Fact]
    public void AllLinearTakesEveryLinearAndConv1DButTheOutputHead()
    {
        using var gpt = PeftModel.Create(TestGpt2.Create(new Generator(1)), new LoraConfig { TargetModules = TargetModules.AllLinear });
        Assert.Equal(8, gpt.TunerLayers().Count());
        Assert.All(gpt.TunerLayers(), l => Assert.Matches(@"^transformer\.h\.\d\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)$", l.Path));
        using var head = PeftModel.Create(new WithHead(), new LoraConfig { TargetModules = TargetModules.AllLinear });
        Assert.Equal(["body"], head.TunerLayers().Select(l => l.Path).ToList());
    }

    private static List<string> Names(Module m) => m.NamedParameters().Select(np => np.Name).ToList();

    [Fact]
    public void BadTargetsAndRanksFailClearlyAndLeaveTheModelUnchanged()
    {
        var model = new TestMlp(new Generator(1));
        var names = Names(model);
        var e = Assert.Throws<ArgumentException>(() => PeftModel.Create(model, Lora(TargetModules.Of("nope"))));
        Assert.Contains("Target modules ['nope'] not found in the base model", e.Message);
        Assert.Equal(names, Names(model));

        var r0 = Assert.Throws<ArgumentException>(() => PeftModel.Create(model, Lora(TargetModules.Of("lin0")) with { R = 0 }));
        Assert.Contains("`r` should be a positive integer value but the value passed is 0", r0.Message);
        Assert.Equal(names, Names(model));

        var rp = Assert.Throws<ArgumentException>(() => PeftModel.Create(model,
            Lora(TargetModules.Of("lin0", "lin1")) with { RankPattern = new Dictionary<string, int> { ["lin1"] = 0 } }));
        Assert.Contains("rank_pattern", rp.Message);
        Assert.Equal(names, Names(model));

        var type = Assert.Throws<NotSupportedException>(() => PeftModel.Create(model, Lora(TargetModules.Of("relu"))));
        Assert.Contains("'relu' is a Activation", type.Message);
        Assert.Equal(names, Names(model));

        var excluded = Assert.Throws<ArgumentException>(() => PeftModel.Create(model, Lora(TargetModules.Of("lin0")) with { ExcludeModules = TargetModules.Of("lin0") }));
        Assert.Contains("excluded", excluded.Message);
        Assert.DoesNotContain(model.NamedModules(), nm => nm.Module is ITunerLayer);

        using var peft = PeftModel.Create(model, Lora(TargetModules.Of("lin0")));
        var withOne = Names(peft);
        Assert.Throws<ArgumentException>(() => peft.AddAdapter("default", Lora(TargetModules.Of("lin1"))));
        Assert.Throws<ArgumentException>(() => peft.AddAdapter("other", Lora(TargetModules.Of("nope"))));
        Assert.Equal(withOne, Names(peft));
    }

    [Fact]
    public void ModulesToSaveCopiesTrainAndTheOriginalStays()
    {
        using var peft = PeftModel.Create(new TestMlp(new Generator(1)), Lora(TargetModules.Of("lin0")) with { ModulesToSave = ["lin1"] });
        var names = Names(peft);
        Assert.Contains("base_model.model.lin1.original_module.weight", names);
        Assert.Contains("base_model.model.lin1.modules_to_save.default.weight", names);
        Assert.True(peft.NamedParameters().Single(np => np.Name == "base_model.model.lin1.modules_to_save.default.weight").Parameter.RequiresGrad);
        Assert.False(peft.NamedParameters().Single(np => np.Name == "base_model.model.lin1.original_module.weight").Parameter.RequiresGrad);
    }

    [Fact]
    public void WithoutTargetModulesHfsDefaultsPerArchitectureApply()
    {
        using var gpt = PeftModel.Create(TestGpt2.Create(new Generator(1)), new LoraConfig());
        Assert.Equal(["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"], gpt.TunerLayers().Select(l => l.Path).ToList());
        Assert.Equal(TargetModules.Of("c_attn"), ((LoraConfig)gpt.PeftConfigs["default"]).TargetModules);
        using var llama = PeftModel.Create(TestLlama.Create(new Generator(1)), new LoraConfig());
        Assert.Equal(4, llama.TunerLayers().Count());
        Assert.All(llama.TunerLayers(), l => Assert.Matches(@"self_attn\.(q|v)_proj$", l.Path));
        var e = Assert.Throws<ArgumentException>(() => PeftModel.Create(new TestMlp(new Generator(1)), new LoraConfig()));
        Assert.Contains("no default for TestMlp", e.Message);
    }
}
