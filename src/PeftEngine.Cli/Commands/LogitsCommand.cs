using System.ComponentModel;
using System.Globalization;
using PeftEngine.Models;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>
/// `peft logits --model PATH --ids 1,2,3 [--out FILE] [--dtype f32|f64]`: runs one forward pass over the ids and
/// prints (or writes) the logits of the final position, so any engine's numbers can be compared with ours.
/// </summary>
/// <remarks>HF equivalent: <c>AutoModelForCausalLM.from_pretrained(path)(torch.tensor([ids])).logits[0, -1]</c>.
/// The file holds one value per line in token order, written with round-trip precision.</remarks>
public sealed class LogitsCommand : Command<LogitsCommand.Settings>
{
    /// <summary>Options of <c>peft logits</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <MODEL>"), Description("A shipped name, a Hugging Face folder or a GGUF file (required)")]
        public string? Model { get; init; }

        [CommandOption("--ids <IDS>"), Description("Comma-separated token ids of the input, e.g. 1,2,3 (required)")]
        public string? Ids { get; init; }

        [CommandOption("-o|--out <FILE>"), Description("Write the logits to this file, one per line (default: print them)")]
        public string? Out { get; init; }

        [CommandOption("--dtype <DTYPE>"), Description("Compute dtype: f32 or f64 (default: f32)")]
        public string Dtype { get; init; } = "f32";
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string model = ModelResolver.Locate(settings.Model ?? throw new ArgumentException("--model is required"));
        var ids = ParseIds(settings.Ids ?? throw new ArgumentException("--ids is required"));
        var dtype = settings.Dtype switch
        {
            "f32" => DType.F32,
            "f64" => DType.F64,
            var other => throw new ArgumentException($"--dtype expects f32 or f64, got '{other}'"),
        };

        var lm = AutoModel.FromPretrained(model, dtype);
        using var owner = lm.Module;
        foreach (var id in ids)
            if (id < 0 || id >= lm.VocabSize) throw new ArgumentException($"--ids: token {id} is outside the vocabulary [0, {lm.VocabSize})");
        double[] last;
        using (GradMode.Disable())
        using (var input = Tensor.FromArray(ids, 1, ids.Length))
        using (var logits = lm.Forward(input))                        // (1, T, V)
        using (var final = Ops.Select(logits, 1, ids.Length - 1))     // (1, T, V) -> (1, V)
            last = final.ToDoubleArray();

        var lines = last.Select(v => v.ToString("R", CultureInfo.InvariantCulture));
        if (settings.Out is { } outPath)
        {
            File.WriteAllLines(outPath, lines);
            Console.WriteLine($"wrote {last.Length} logits of position {ids.Length - 1} to {outPath}");
        }
        else
        {
            foreach (var line in lines) Console.WriteLine(line);
        }
        var top = last.Select((v, i) => (v, i)).OrderByDescending(p => p.v).Take(5);
        Console.Error.WriteLine($"vocab {last.Length}; top tokens: {string.Join(", ", top.Select(p => $"{p.i} ({p.v.ToString("F4", CultureInfo.InvariantCulture)})"))}");
        return 0;
    }

    /// <summary>"1,2,3" -> [1, 2, 3]; a clear error on anything else.</summary>
    internal static long[] ParseIds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new ArgumentException("--ids expects a comma-separated list of token ids, e.g. 1,2,3");
        return parts.Select(p => long.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out long id) ? id
            : throw new ArgumentException($"--ids: '{p}' is not a token id")).ToArray();
    }
}
