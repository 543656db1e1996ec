using System.Globalization;
using PeftEngine.Models.Training;
using Spectre.Console;

namespace PeftEngine.Cli.Train;

/// <summary>Shows a fine-tuning run on the console: tables for settings and scores, a one-line progress bar that
/// redraws in place on a terminal (and prints a line every tenth of the run when the output is redirected).</summary>
public sealed class ConsoleFineTuneReporter(IAnsiConsole console, int samples) : IFineTuneReporter
{
    private int _firstStep, _steps, _lastPrinted = -1;
    private bool Interactive => console.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;

    public void Info(string message) => console.MarkupLine(Markup.Escape(message));

    public void Settings(IReadOnlyList<(string Name, string Value)> rows)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]peft train[/]").AddColumn("setting").AddColumn("value");
        foreach (var (name, value) in rows) table.AddRow(Markup.Escape(name), Markup.Escape(value));
        console.Write(table);
    }

    public void Scores(string phase, PhaseScore score)
    {
        var a = score.Answers;
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"[bold]{phase} training[/]: held-out loss {score.Loss.Loss:F4}, perplexity {score.Perplexity:F2}, exact match {a.Correct}/{a.Samples.Count} ({a.Accuracy:P1})"));
        if (samples == 0 || a.Samples.Count == 0) return;
        var table = new Table().Border(TableBorder.Simple).AddColumn("question").AddColumn("passage").AddColumn("expected").AddColumn("model answer");
        foreach (var s in a.Samples.Take(samples))
            table.AddRow(Markup.Escape(s.Record.Instruction), Markup.Escape(s.Record.Input), Markup.Escape(s.Record.Output),
                (s.Correct ? "[green]" : "[red]") + Markup.Escape(s.Predicted.Length == 0 ? "(nothing)" : s.Predicted) + "[/]");
        console.Write(table);
    }

    public void TrainingStarted(int firstStep, int steps)
    {
        Begin(firstStep, steps);
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"training steps {firstStep + 1}..{steps} (Ctrl+C stops after the current step and saves a checkpoint)"));
    }

    /// <summary>Sets the step range the progress line measures against, without printing.</summary>
    internal void Begin(int firstStep, int steps)
    {
        _firstStep = firstStep;
        _steps = steps;
    }

    public void Progress(TrainingProgress p)
    {
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{Bar(p.Step, p.MaxSteps)} step {p.Step}/{p.MaxSteps}  loss {p.Loss:F4}  {p.TokensPerSecond:N0} tok/s  ETA {p.Eta:mm\\:ss}");
        if (Interactive)
        {
            Console.Write("\r" + line.PadRight(Math.Max(0, Console.WindowWidth - 1)));
            return;
        }
        int tenth = (int)((long)(p.Step - _firstStep) * 10 / Math.Max(1, _steps - _firstStep));
        if (tenth != _lastPrinted || p.Step == p.MaxSteps)
        {
            _lastPrinted = tenth;
            console.WriteLine(line);
        }
    }

    public void TrainingDone()
    {
        if (Interactive) Console.WriteLine();
    }

    private static string Bar(int step, int max)
    {
        const int width = 24;
        int filled = (int)((long)step * width / Math.Max(1, max));
        return "[" + new string('#', filled) + new string('.', width - filled) + "]";
    }
}
