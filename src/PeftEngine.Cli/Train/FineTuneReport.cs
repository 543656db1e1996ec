using PeftEngine.Models.Training;

namespace PeftEngine.Cli.Train;

/// <summary>Held-out numbers of one model state (before or after training).</summary>
/// <param name="Loss">Mean next-token loss on the held-out responses.</param>
/// <param name="Answers">Exact-match answers to held-out questions.</param>
public sealed record PhaseScore(EvalResult Loss, ExactMatchResult Answers)
{
    /// <summary>exp(loss).</summary>
    public double Perplexity => Loss.Perplexity;
}

/// <summary>What a fine-tuning run produced.</summary>
public sealed record FineTuneResult(PhaseScore Before, PhaseScore? After, int Steps, bool Interrupted, string OutputDirectory,
    string? AdapterDirectory, string? CheckpointDirectory, TimeSpan TrainingTime, double TokensPerSecond);

/// <summary>Receives what a fine-tuning run has to say (and, as every training job, its steps), so the console front
/// end and tests can each show it their way.</summary>
public interface IFineTuneReporter : ITrainingReporter
{
    /// <summary>The resolved settings, as (name, value) rows.</summary>
    void Settings(IReadOnlyList<(string Name, string Value)> rows);

    /// <summary>The held-out scores of a phase ("before" or "after").</summary>
    void Scores(string phase, PhaseScore score);
}
