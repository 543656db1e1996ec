using PeftEngine.Cli.Train;
using PeftEngine.Models.Training;

namespace PeftEngine.Tests;

/// <summary>An <see cref="IFineTuneReporter"/> that keeps what a fine-tuning job reports (info lines, settings,
/// phase scores, progress steps) instead of writing to the console.</summary>
internal sealed class RecordingReporter : IFineTuneReporter
{
    public List<string> Lines { get; } = [];
    public List<TrainingProgress> Steps { get; } = [];
    public Dictionary<string, PhaseScore> Phases { get; } = [];
    public void Info(string message) => Lines.Add(message);
    public void Settings(IReadOnlyList<(string Name, string Value)> rows) => Lines.AddRange(rows.Select(r => $"{r.Name}: {r.Value}"));
    public void Scores(string phase, PhaseScore score) => Phases[phase] = score;
    public void TrainingStarted(int firstStep, int steps) { }
    public void Progress(TrainingProgress progress) => Steps.Add(progress);
    public void TrainingDone() { }
}

/// <summary>An <see cref="Cli.Classify.IClassifyReporter"/> that keeps what a classification job reports;
/// <see cref="OnProgress"/> sees every step (tests cancel a run from it).</summary>
internal sealed class RecordingClassifyReporter : Cli.Classify.IClassifyReporter
{
    public List<string> Lines { get; } = [];
    public List<TrainingProgress> Steps { get; } = [];
    public Dictionary<string, Cli.Classify.ClassifierScore> Phases { get; } = [];
    public Action<TrainingProgress>? OnProgress { get; init; }
    public void Info(string message) => Lines.Add(message);
    public void Settings(IReadOnlyList<(string Name, string Value)> rows) => Lines.AddRange(rows.Select(r => $"{r.Name}: {r.Value}"));
    public void Scores(string phase, Cli.Classify.ClassifierScore score) => Phases[phase] = score;
    public void TrainingStarted(int firstStep, int steps) { }
    public void Progress(TrainingProgress progress)
    {
        Steps.Add(progress);
        OnProgress?.Invoke(progress);
    }
    public void TrainingDone() { }
}
