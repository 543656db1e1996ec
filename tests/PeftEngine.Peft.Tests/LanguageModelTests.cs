using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Tests;

/// <summary>A PeftModel over the <see cref="ICausalLanguageModel"/> contract: forward, loss, mixed batches, training.</summary>
public class LanguageModelTests
{
    /// <summary>GPT-2 seen through the contract (without a KV cache).</summary>
    private sealed class Gpt2Lm(Gpt2Model model) : ICausalLanguageModel
    {
        public Module Module => model;

        public int VocabSize => model.Config.VocabSize;

        public int MaxPositions => model.Config.MaxPositionEmbeddings;

        public Tensor Forward(Tensor ids, Tensor? attentionMask = null, ModelKvCache? cache = null) =>
            cache is null ? model.Forward(ids, attentionMask) : throw new NotSupportedException("no cache in this test");

        public Tensor Loss(Tensor ids, Tensor labels, Tensor? attentionMask = null) => model.Loss(ids, labels, attentionMask);

        public ModelKvCache CreateCache(int batch, int maxLength) => throw new NotSupportedException("no cache in this test");
    }

    [Fact]
    public void LoraTrainingLowersTheLanguageModelLoss()
    {
        using var peft = PeftModel.ForCausalLm(new Gpt2Lm(TestGpt2.Create(new Generator(4))),
            new LoraConfig { TargetModules = TargetModules.AllLinear, R = 4, LoraAlpha = 8 }, "default", new Generator(5));
        ICausalLanguageModel lm = peft;
        Assert.Same(peft, lm.Module);
        Assert.Equal(50, lm.VocabSize);
        using var ids = TestGpt2.Input();
        using var opt = new AdamW(LoraPlus.ParamGroups(peft, lr: 1e-2, loraPlusLrRatio: 4), 1e-2);
        var (first, last) = Harness.TrainLanguageModel(peft, opt, ids, steps: 15);
        Assert.True(last < first - 0.1, $"loss {first:F4} -> {last:F4}");
        Assert.All(peft.NamedParameters().Where(np => !np.Name.Contains(".lora_")), np => Assert.Null(np.Parameter.Grad));
    }

    [Fact]
    public void MixedBatchThroughTheLanguageModelContract()
    {
        using var peft = PeftModel.ForCausalLm(new Gpt2Lm(TestGpt2.Create(new Generator(4))),
            new LoraConfig { TargetModules = TargetModules.Of("c_attn"), InitLoraWeights = LoraInit.Random }, "a", new Generator(5));
        peft.AddAdapter("b", new LoraConfig { TargetModules = TargetModules.Of("c_fc"), InitLoraWeights = LoraInit.Random }, new Generator(6));
        peft.Eval();
        using var ids = TestGpt2.Input();   // 3 sequences
        using var _ = GradMode.Disable();
        using var mixed = peft.Forward(ids, ["b", "__base__", "a"], null);
        ICausalLanguageModel lm = peft;
        double[] Row(Tensor t, int i) { using var r = Ops.Select(t, 0, i); using var c = Ops.Contiguous(r); return c.ToDoubleArray(); }
        using var outA = lm.Forward(ids);
        peft.SetAdapter("b");
        using var outB = lm.Forward(ids);
        double[] baseRow;
        using (peft.DisableAdapter()) using (var outBase = lm.Forward(ids)) baseRow = Row(outBase, 1);
        TestData.AssertClose(Row(outB, 0), Row(mixed, 0), 1e-5, 1e-5, "row 0 (b)");
        TestData.AssertClose(baseRow, Row(mixed, 1), 1e-5, 1e-5, "row 1 (base)");
        TestData.AssertClose(Row(outA, 2), Row(mixed, 2), 1e-5, 1e-5, "row 2 (a)");
    }

    [Fact]
    public void GradientCheckpointingGivesTheSameAdapterGradients()
    {
        Dictionary<string, double[]> Grads(bool checkpointing)
        {
            var llama = TestLlama.Create(new Generator(8));
            llama.GradientCheckpointing = checkpointing;
            using var peft = PeftModel.Create(llama, new LoraConfig { TargetModules = TargetModules.Of("q_proj", "v_proj", "down_proj"), InitLoraWeights = LoraInit.Random }, "default", new Generator(9));
            peft.Train();
            using var ids = TestLlama.Input();
            using var loss = ((ICausalLanguageModel)peft).Loss(ids, ids);
            loss.Backward();
            Assert.All(peft.NamedParameters().Where(np => !np.Name.Contains(".lora_")), np => Assert.Null(np.Parameter.Grad));
            return peft.NamedParameters().Where(np => np.Parameter.RequiresGrad).ToDictionary(np => np.Name, np => np.Parameter.Grad!.ToDoubleArray());
        }
        var plain = Grads(false);
        var checkpointed = Grads(true);
        Assert.Equal(plain.Keys.Order(), checkpointed.Keys.Order());
        Assert.Equal(12, plain.Count);
        foreach (var (name, g) in plain) TestData.AssertClose(g, checkpointed[name], 1e-6, 1e-5, name);
    }

    [Fact]
    public void AMergedAdapterCannotBeDeletedAndNothingChanges()
    {
        using var peft = PeftModel.Create(TestLlama.Create(new Generator(8)), new LoraConfig { TargetModules = TargetModules.Of("q_proj"), InitLoraWeights = LoraInit.Random });
        peft.MergeAdapter();
        var names = peft.NamedParameters().Select(np => np.Name).ToList();
        Assert.Throws<InvalidOperationException>(() => peft.DeleteAdapter("default"));
        Assert.Equal(names, peft.NamedParameters().Select(np => np.Name).ToList());
        Assert.Single(peft.PeftConfigs);
        Assert.All(peft.TunerLayers(), l => Assert.Equal(["default"], l.Layer.MergedAdapters));
    }
}
