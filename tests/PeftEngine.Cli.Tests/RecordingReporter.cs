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
