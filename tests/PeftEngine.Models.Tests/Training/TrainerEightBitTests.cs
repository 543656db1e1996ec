using PeftEngine.IO;
using PeftEngine.Models.Training;
using PeftEngine.Quant;

namespace PeftEngine.Tests.Training;

/// <summary>The trainer with 8-bit AdamW: the quantized state goes through checkpoints, and resuming gives the
/// numbers of an uninterrupted run.</summary>
public sealed class TrainerEightBitTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "peft-train8-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static Models.Gpt2Model Model(ulong seed) => new((Gpt2Config)HfConfig.Parse(
        "{\"model_type\":\"gpt2\",\"vocab_size\":40,\"n_positions\":32,\"n_embd\":64,\"n_layer\":1,\"n_head\":2," +
        "\"attn_pdrop\":0,\"resid_pdrop\":0,\"embd_pdrop\":0}"), generator: new Generator(seed));   // c_attn, c_fc, c_proj ≥ 4096 weights: 8-bit state

    private Trainer NewTrainer(Models.Gpt2Model model, bool checkpoints) => new(model,
        new TrainerOptions
        {
            MaxSteps = 6, LearningRate = 3e-3, WeightDecay = 0.01, WarmupSteps = 1, Optimizer = TrainerOptimizer.AdamW8Bit,
            CheckpointDirectory = checkpoints ? _dir : null, CheckpointEvery = checkpoints ? 3 : 0,
        },
        new BatchLoader(TrainerResumeTests.Examples(), 4, padId: 0, seed: 17));

    [Fact]
    public void ResumingAnEightBitRunIsBitIdenticalToAStraightRun()
    {
        using var straightModel = Model(1);
        using var straight = NewTrainer(straightModel, checkpoints: false);
        Assert.IsType<AdamW8Bit>(straight.Optimizer);
        straight.Train();
        var fc = straightModel.NamedParameters().First(p => p.Name.EndsWith("mlp.c_fc.weight")).Parameter;
        Assert.Equal(DType.U8, straight.Optimizer.GetState(fc)!.Tensors["state1"].DType);
        Assert.True(straight.History[^1].Loss < straight.History[0].Loss, "the loss did not go down");

        using (var firstModel = Model(1))
        using (var first = NewTrainer(firstModel, checkpoints: true))
            first.Train(stopAfter: 3);
        using var resumedModel = Model(99);
        using var resumed = NewTrainer(resumedModel, checkpoints: true);
        resumed.Resume(_dir);
        resumed.Train();

        Assert.Equal(straight.History.Select(h => h.Loss), resumed.History.Select(h => h.Loss));
        foreach (var ((name, a), (_, b)) in straightModel.NamedParameters().Zip(resumedModel.NamedParameters()))
            Assert.True(a.Data.ToFloatArray().AsSpan().SequenceEqual(b.Data.ToFloatArray()), $"parameter {name} differs after resume");
    }
}
