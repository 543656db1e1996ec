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
