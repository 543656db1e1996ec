using System.ComponentModel;
using System.Diagnostics;
using PeftEngine.IO.Tokenizers.Training;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>
/// `peft tokenizer train`: learns a byte-level BPE vocabulary from text files and saves it as a Hugging Face
/// tokenizer.json (special tokens &lt;|endoftext|&gt;, &lt;|pad|&gt;, &lt;|im_start|&gt;, &lt;|im_end|&gt; get ids 0-3).
/// </summary>
public sealed class TokenizerTrainCommand : Command<TokenizerTrainCommand.Settings>
{
    /// <summary>Options of <c>peft tokenizer train</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--input <FILES>"), Description("Text file(s) to learn from, comma-separated (required)")]
        public string? Input { get; init; }

        [CommandOption("-o|--out <FILE>"), Description("Where to write tokenizer.json (required)")]
        public string? Out { get; init; }

        [CommandOption("--vocab-size <N>"), Description("Tokens in the vocabulary: 256 bytes + special tokens + merges (default: 4096)")]
        public int VocabSize { get; init; } = 4096;

        [CommandOption("--min-frequency <N>"), Description("A pair must occur at least this often to be merged (default: 2)")]
        public int MinFrequency { get; init; } = 2;
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string inputs = settings.Input ?? throw new ArgumentException("--input is required (text files to learn from)");
        string output = settings.Out ?? throw new ArgumentException("--out is required (the tokenizer.json to write)");
        if (settings.VocabSize < 1 || settings.MinFrequency < 0) throw new ArgumentException("--vocab-size must be positive and --min-frequency not negative");
        var files = inputs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var f in files)
            if (!File.Exists(f)) throw new ArgumentException($"--input: file '{f}' does not exist");
        var trainerOptions = new BpeTrainerOptions
        {
            VocabSize = settings.VocabSize,
            MinFrequency = settings.MinFrequency,
        };
        var clock = Stopwatch.StartNew();
        var bpe = BpeTrainer.Train(files.Select(File.ReadAllText), trainerOptions);
        bpe.Save(output);
        Console.WriteLine($"learned {bpe.Merges.Count} merges ({bpe.VocabSize} tokens) from {files.Length} file(s) in {clock.Elapsed.TotalSeconds:F1} s; saved {output}");
        return 0;
    }
}
