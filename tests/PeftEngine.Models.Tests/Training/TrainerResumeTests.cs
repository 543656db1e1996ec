using PeftEngine.IO.Datasets;
using PeftEngine.Models.Training;

namespace PeftEngine.Tests.Training;

/// <summary>Checkpoints: stopping, saving, rebuilding everything and resuming gives the uninterrupted numbers.</summary>
public sealed class TrainerResumeTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "peft-train-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static readonly TrainerOptions Options = new()
    {
        MaxSteps = 8,
        GradientAccumulationSteps = 2,
        LearningRate = 3e-3,
        WeightDecay = 0.01,
        WarmupSteps = 2,
        Schedule = LrScheduleKind.Cosine,
        MaxGradNorm = 0.5,
    };

    /// <summary>24 random sequences of 5..12 tokens (so batches need padding); 6 batches of 4 per epoch.</summary>
    internal static List<TrainingExample> Examples(int count = 24, int seed = 5, int minLength = 5, int maxLength = 12)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => TrainingExample.LanguageModelling(Enumerable.Range(0, rng.Next(minLength, maxLength + 1)).Select(_ => rng.Next(2, 40)).ToArray()))
            .ToList();
    }

    private sealed class Run : IDisposable
    {
        public Run(string? checkpoints, int initSeed)
        {
            Generator = new Generator((ulong)initSeed);
            Model = TinyGpt2.Create(Generator, dropout: 0.1);
            Trainer = new Trainer(Model, Options with { CheckpointDirectory = checkpoints, CheckpointEvery = checkpoints is null ? 0 : 3 },
                new BatchLoader(Examples(), 4, padId: 0, seed: 17), generators: [Generator]);
        }

        public Generator Generator { get; }
        public Models.Gpt2Model Model { get; }
        public Trainer Trainer { get; }

        public Dictionary<string, float[]> Parameters() =>
            Model.NamedParameters().ToDictionary(np => np.Name, np => np.Parameter.Data.ToFloatArray());

        public void Dispose()
        {
            Trainer.Dispose();
            Model.Dispose();
        }
    }

    [Fact]
    public void StopSaveRebuildResume_IsBitIdenticalToAStraightRun()
    {
        using var straight = new Run(null, initSeed: 1);
        straight.Trainer.Train();
        var expectedLosses = straight.Trainer.History.Select(h => h.Loss).ToArray();
        var expectedParams = straight.Parameters();

        using (var first = new Run(_dir, initSeed: 1))
            first.Trainer.Train(stopAfter: 3);
        Assert.Equal("checkpoint-000003", File.ReadAllText(Path.Combine(_dir, "latest")));

        using var resumed = new Run(_dir, initSeed: 99);   // different initial weights and generator: all must come from the checkpoint
        resumed.Trainer.Resume(_dir);
        Assert.Equal(3, resumed.Trainer.Step);
        resumed.Trainer.Train();

        Assert.Equal(8, resumed.Trainer.Step);
        Assert.Equal(expectedLosses, resumed.Trainer.History.Select(h => h.Loss).ToArray());
        foreach (var (name, values) in resumed.Parameters())
            Assert.True(expectedParams[name].AsSpan().SequenceEqual(values), $"parameter {name} differs after resume");
        Assert.Equal(straight.Generator.GetState(), resumed.Generator.GetState());
        Assert.NotEqual(expectedLosses[3], expectedLosses[4]);
    }

    [Fact]
    public void InterruptedSave_KeepsTheEarlierCheckpoint()
    {
        using var run = new Run(null, initSeed: 1);
        run.Trainer.Train(stopAfter: 2);
        string good = run.Trainer.SaveCheckpoint(_dir);
        run.Trainer.Train(stopAfter: 2);

        var state = new TrainerState { Step = 4 };
        var parameters = run.Model.NamedParameters().ToList();
        Assert.Throws<IOException>(() => TrainingCheckpoint.Save(_dir, parameters, run.Trainer.Optimizer, state, 2,
            afterFile: f => { if (f == TrainingCheckpoint.OptimizerFile) throw new IOException("disk full"); }));

        Assert.Equal(good, TrainingCheckpoint.FindLatest(_dir));
        Assert.Equal(["checkpoint-000002"], Directory.GetFileSystemEntries(_dir).Select(d => Path.GetFileName(d)!).Where(n => n != "latest").Order());

        using var fresh = new Run(null, initSeed: 3);
        fresh.Trainer.Resume(_dir);
        Assert.Equal(2, fresh.Trainer.Step);
    }

    [Fact]
    public void ResavingAStep_ReplacesItAndPruningKeepsTheNewest()
    {
        using var run = new Run(null, initSeed: 1);
        for (int i = 0; i < 4; i++)
        {
            run.Trainer.Train(stopAfter: 1);
            run.Trainer.SaveCheckpoint(_dir);
        }
        run.Trainer.SaveCheckpoint(_dir);   // same step again
        var folders = Directory.GetDirectories(_dir).Select(d => Path.GetFileName(d)!).Order().ToArray();
        Assert.Equal(["checkpoint-000003", "checkpoint-000004"], folders);
        Assert.Equal(4, TrainingCheckpoint.ReadState(TrainingCheckpoint.FindLatest(_dir)!).Step);
    }

    [Fact]
    public void Cancellation_EndsAfterTheCurrentStepWithACheckpoint()
    {
        using var run = new Run(_dir, initSeed: 1);
        using var cancel = new CancellationTokenSource();
        run.Trainer.OnProgress = p => { if (p.Step == 2) cancel.Cancel(); };
        run.Trainer.Train(cancel: cancel.Token);
        Assert.Equal(2, run.Trainer.Step);
        Assert.Equal(2, TrainingCheckpoint.ReadState(TrainingCheckpoint.FindLatest(_dir)!).Step);
    }

    [Fact]
    public void Resume_WithoutACheckpoint_Throws()
    {
        using var run = new Run(null, initSeed: 1);
        Assert.Throws<DirectoryNotFoundException>(() => run.Trainer.Resume(_dir));
    }
}
