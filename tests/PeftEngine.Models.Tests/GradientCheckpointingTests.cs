using PeftEngine.Models;

namespace PeftEngine.Tests;

/// <summary>Per-layer gradient checkpointing changes memory, not numbers.</summary>
public class GradientCheckpointingTests
{
    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("mistral")]
    public void CheckpointedGradientsEqualThePlainOnesAndThePyTorchReference(string name)
    {
        using var expected = LlamaFixture.OpenExpected(name);
        using var ids = expected.Load("ids");
        using var labels = expected.Load("labels");
        using var mask = expected.Load("attention_mask");

        using var plain = LlamaModel.FromPretrained(LlamaFixture.Directory(name));
        plain.Train();
        double plainLoss;
        using (var loss = plain.Loss(ids, labels, mask)) { plainLoss = loss.Item(); loss.Backward(); }

        using var checkpointed = LlamaModel.FromPretrained(LlamaFixture.Directory(name));
        checkpointed.Train();
        checkpointed.GradientCheckpointing = true;
        double checkpointedLoss;
        using (var loss = checkpointed.Loss(ids, labels, mask))
        {
            Assert.True(loss.RequiresGrad);
            checkpointedLoss = loss.Item();
            loss.Backward();
        }

        Assert.Equal(plainLoss, checkpointedLoss);
        var reference = plain.NamedParameters().ToDictionary(np => np.Name, np => np.Parameter);
        foreach (var (pname, p) in checkpointed.NamedParameters())
        {
            Assert.NotNull(p.Grad);
            TestData.AssertClose(reference[pname].Grad!.ToDoubleArray(), p.Grad!.ToDoubleArray(), atol: 1e-7, rtol: 1e-6, what: $"{name} {pname}");
        }
        LlamaParityTests.AssertGradientsMatch(checkpointed, expected, name, atolOfScale: 2e-5, rtol: 1e-5);
    }

    [Fact]
    public void Gpt2CheckpointedGradientsEqualThePlainOnesWithPaddingAndDropout()
    {
        using var expected = Gpt2Fixture.OpenExpected();
        using var ids = expected.Load("ids");
        using var labels = expected.Load("labels");
        using var mask = Tensor.FromArray(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0 }, 2, 7);
        var config = (IO.Gpt2Config)IO.HfConfig.Load(Gpt2Fixture.Directory) with { AttnPdrop = 0.2, ResidPdrop = 0.1 };

        Dictionary<string, double[]> Run(bool checkpointing, ulong seed = 77)
        {
            using var model = Gpt2Model.FromPretrained(Gpt2Fixture.Directory);
            using var dropped = new Gpt2Model(config, generator: new Generator(seed));   // its dropout draws from this generator
            using (var state = model.StateDict()) dropped.LoadStateDict(state);
            dropped.Train();
            dropped.GradientCheckpointing = checkpointing;
            using (var loss = dropped.Loss(ids, labels, mask)) loss.Backward();
            return dropped.NamedParameters().ToDictionary(np => np.Name, np => np.Parameter.Grad!.ToDoubleArray());
        }

        var plain = Run(false);
        var checkpointed = Run(true);
        var otherMasks = Run(false, seed: 78);
        Assert.NotEqual(plain["transformer.h.0.attn.c_attn.weight"], otherMasks["transformer.h.0.attn.c_attn.weight"]);   // dropout is live
        foreach (var (name, grad) in plain)
            TestData.AssertClose(grad, checkpointed[name], atol: 1e-7, rtol: 1e-6, what: "gpt2 " + name);
    }

    [Fact]
    public void InEvaluationModeTheOptionIsIgnored()
    {
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory("llama"));
        model.GradientCheckpointing = true;   // eval mode (from FromPretrained): plain forward
        using var ids = Tensor.FromArray(new long[] { 1, 2, 3, 4 }, 1, 4);
        using var a = model.Forward(ids);
        model.GradientCheckpointing = false;
        using var b = model.Forward(ids);
        Assert.Equal(b.ToDoubleArray(), a.ToDoubleArray());
    }
}
