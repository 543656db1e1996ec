using System.Diagnostics;
using PeftEngine.Models.Training;

namespace PeftEngine.Cli.Train;

/// <summary>What every training job (the causal-LM fine-tune, the classifier) says while it trains.</summary>
public interface ITrainingReporter
{
    /// <summary>A line of information.</summary>
    void Info(string message);

    /// <summary>Training is about to run steps <paramref name="firstStep"/> + 1 .. <paramref name="steps"/>;
    /// <see cref="Progress"/> follows after each step and <see cref="TrainingDone"/> at the end.</summary>
    void TrainingStarted(int firstStep, int steps);

    /// <summary>After an optimizer step.</summary>
    void Progress(TrainingProgress progress);

    /// <summary>Training stopped (finished or interrupted).</summary>
    void TrainingDone();
}

/// <summary>How a <see cref="TrainingLoop.Run"/> ended.</summary>
/// <param name="Steps">The steps reported in this run (not those before a resume).</param>
/// <param name="Elapsed">Wall time of the steps.</param>
/// <param name="Checkpoint">The checkpoint to resume from when the run was interrupted; null when it finished.</param>
public sealed record TrainingOutcome(IReadOnlyList<TrainingProgress> Steps, TimeSpan Elapsed, string? Checkpoint)
{
    /// <summary>True when cancellation stopped the run before its last step.</summary>
    public bool Interrupted => Checkpoint is not null;

    /// <summary>Training throughput at the last step (0 when no step ran).</summary>
    public double TokensPerSecond => Steps.Count > 0 ? Steps[^1].TokensPerSecond : 0;
}

/// <summary>The part of a <c>peft train</c> job around the <see cref="Trainer"/> that both tasks share: the trainer
/// settings (AdamW, cosine schedule with warm-up, gradient clipping at 1, checkpoints under OUTPUT/checkpoints) and a
/// run that resumes when asked, reports every step and ends after the current step on cancellation with a checkpoint.</summary>
internal static class TrainingLoop
{
    /// <summary>The folder of a run's checkpoints.</summary>
    public static string CheckpointFolder(string output) => Path.Combine(output, "checkpoints");

    /// <summary>Trainer settings of a job: <paramref name="steps"/> AdamW steps at peak rate <paramref name="lr"/>
    /// after at most <paramref name="warmup"/> warm-up steps, cosine decay, global-norm clipping at 1.</summary>
    public static TrainerOptions Options(int steps, double lr, int warmup, string output, int checkpointEvery, double weightDecay = 0) => new()
    {
        MaxSteps = steps,
        LearningRate = lr,
        WeightDecay = weightDecay,
        WarmupSteps = Math.Min(warmup, steps - 1),
        Schedule = LrScheduleKind.Cosine,
        MaxGradNorm = 1.0,
        CheckpointDirectory = CheckpointFolder(output),
        CheckpointEvery = checkpointEvery,
    };

    /// <summary>Resumes <paramref name="trainer"/> from <paramref name="resume"/> when given, trains to its last step
    /// (or until <paramref name="cancel"/>, which leaves a checkpoint), reporting each step.</summary>
    public static TrainingOutcome Run(Trainer trainer, string? resume, ITrainingReporter reporter, CancellationToken cancel)
    {
        var steps = new List<TrainingProgress>();
        trainer.OnProgress = p =>
        {
            steps.Add(p);
            reporter.Progress(p);
        };
        if (resume is not null)
        {
            trainer.Resume(resume);
            reporter.Info($"resumed from {resume} at step {trainer.Step}");
        }
        var clock = Stopwatch.StartNew();
        reporter.TrainingStarted(trainer.Step, trainer.Options.MaxSteps);
        try { trainer.Train(cancel: cancel); }
        finally { reporter.TrainingDone(); }
        clock.Stop();
        if (trainer.Step >= trainer.Options.MaxSteps) return new TrainingOutcome(steps, clock.Elapsed, null);
        string checkpoint = TrainingCheckpoint.FindLatest(trainer.Options.CheckpointDirectory!)
            ?? throw new InvalidOperationException($"training stopped at step {trainer.Step} without a checkpoint");
        reporter.Info($"interrupted at step {trainer.Step}; resume with --resume {checkpoint}");
        return new TrainingOutcome(steps, clock.Elapsed, checkpoint);
    }
}
