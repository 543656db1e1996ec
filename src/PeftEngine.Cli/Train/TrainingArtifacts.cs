using System.Globalization;
using System.Text;
using System.Text.Json;
using PeftEngine.IO;
using PeftEngine.Models.Training;

namespace PeftEngine.Cli.Train;

/// <summary>The files a run leaves beside its adapter: a JSONL training log and an SVG loss curve.</summary>
public static class TrainingArtifacts
{
    /// <summary>One JSON object per logged step, then the evaluations, written atomically.</summary>
    public static void WriteLog(string path, IEnumerable<TrainingProgress> steps, PhaseScore before, PhaseScore? after)
    {
        var text = StepLines(steps);
        foreach (var (phase, score) in new[] { ("before", before), ("after", after) })
            if (score is not null)
                text.AppendLine(JsonSerializer.Serialize(new
                {
                    eval = phase, loss = score.Loss.Loss, perplexity = score.Perplexity,
                    exact_match = score.Answers.Accuracy, correct = score.Answers.Correct, total = score.Answers.Samples.Count,
                }));
        WriteText(path, text.ToString());
    }

    /// <summary>One JSON line per logged step (step, loss, lr, grad_norm, tokens_per_second, elapsed_seconds), for a
    /// log that then appends its evaluations.</summary>
    internal static StringBuilder StepLines(IEnumerable<TrainingProgress> steps)
    {
        var text = new StringBuilder();
        foreach (var p in steps)
            text.AppendLine(JsonSerializer.Serialize(new
            {
                step = p.Step, loss = p.Loss, lr = p.LearningRate, grad_norm = p.GradNorm,
                tokens_per_second = p.TokensPerSecond, elapsed_seconds = p.Elapsed.TotalSeconds,
            }));
        return text;
    }

    /// <summary>A plain SVG chart of training loss against step (with a moving average).</summary>
    public static void WriteLossCurve(string path, IReadOnlyList<(int Step, double Loss)> points, string title)
    {
        const int width = 640, height = 360, left = 56, right = 16, top = 32, bottom = 40;
        var svg = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        svg.AppendLine(c, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        svg.AppendLine(c, $"<text x=\"{width / 2}\" y=\"20\" text-anchor=\"middle\">{Escape(title)}</text>");
        if (points.Count > 0)
        {
            double minStep = points[0].Step, maxStep = Math.Max(points[^1].Step, minStep + 1);
            double minLoss = points.Min(p => p.Loss), maxLoss = points.Max(p => p.Loss);
            if (maxLoss - minLoss < 1e-9) maxLoss = minLoss + 1;
            double X(double s) => left + (s - minStep) / (maxStep - minStep) * (width - left - right);
            double Y(double l) => top + (maxLoss - l) / (maxLoss - minLoss) * (height - top - bottom);
            svg.AppendLine(c, $"<line x1=\"{left}\" y1=\"{height - bottom}\" x2=\"{width - right}\" y2=\"{height - bottom}\" stroke=\"black\"/>");
            svg.AppendLine(c, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{height - bottom}\" stroke=\"black\"/>");
            for (int i = 0; i <= 4; i++)
            {
                double l = minLoss + (maxLoss - minLoss) * i / 4;
                svg.AppendLine(c, $"<text x=\"{left - 6}\" y=\"{Y(l) + 4:F1}\" text-anchor=\"end\">{l:F2}</text>");
                double s = minStep + (maxStep - minStep) * i / 4;
                svg.AppendLine(c, $"<text x=\"{X(s):F1}\" y=\"{height - bottom + 16}\" text-anchor=\"middle\">{s:F0}</text>");
            }
            svg.AppendLine(c, $"<text x=\"{width / 2}\" y=\"{height - 6}\" text-anchor=\"middle\">step</text>");
            svg.AppendLine(Polyline(points.Select(p => (X(p.Step), Y(p.Loss))), "#9ab", 1));
            var smooth = MovingAverage(points, Math.Max(1, points.Count / 20));
            svg.AppendLine(Polyline(smooth.Select(p => (X(p.Step), Y(p.Loss))), "#c33", 2));
        }
        svg.AppendLine("</svg>");
        WriteText(path, svg.ToString());
    }

    private static string Polyline(IEnumerable<(double X, double Y)> points, string colour, int width) =>
        "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"" + width + "\" points=\"" +
        string.Join(" ", points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.X:F1},{p.Y:F1}"))) + "\"/>";

    private static List<(int Step, double Loss)> MovingAverage(IReadOnlyList<(int Step, double Loss)> points, int window)
    {
        var result = new List<(int, double)>(points.Count);
        double sum = 0;
        for (int i = 0; i < points.Count; i++)
        {
            sum += points[i].Loss;
            if (i >= window) sum -= points[i - window].Loss;
            result.Add((points[i].Step, sum / Math.Min(i + 1, window)));
        }
        return result;
    }

    /// <summary>Writes a text file atomically (UTF-8).</summary>
    internal static void WriteText(string path, string text) =>
        AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(text)));

    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
