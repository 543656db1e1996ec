using System.Globalization;
using PeftEngine.Cli.Train;
using PeftEngine.Models.Training;
using Spectre.Console;

namespace PeftEngine.Cli.Classify;

/// <summary>Shows a classification run on the console, with the same settings table and progress line as
/// <see cref="ConsoleFineTuneReporter"/>.</summary>
public sealed class ConsoleClassifyReporter(IAnsiConsole console) : IClassifyReporter
{
    private readonly ConsoleFineTuneReporter _lines = new(console, samples: 0);

    public void Info(string message) => _lines.Info(message);

    public void Settings(IReadOnlyList<(string Name, string Value)> rows) => _lines.Settings(rows);

    public void Scores(string phase, ClassifierScore score) =>
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"[bold]{phase} training[/]: held-out loss {score.Loss:F4}, accuracy {score.Correct}/{score.Count} ({score.Accuracy:P1})"));

    public void TrainingStarted(int firstStep, int steps) => _lines.TrainingStarted(firstStep, steps);

    public void Progress(TrainingProgress progress) => _lines.Progress(progress);

    public void TrainingDone() => _lines.TrainingDone();
}
