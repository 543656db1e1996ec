using System.Diagnostics;
using PeftEngine.IO.Tokenizers.Training;

namespace PeftEngine.Cli;

/// <summary>
/// `peft tokenizer train`: learns a byte-level BPE vocabulary from text files and saves it as a Hugging Face
/// tokenizer.json (special tokens &lt;|endoftext|&gt;, &lt;|pad|&gt;, &lt;|im_start|&gt;, &lt;|im_end|&gt; get ids 0-3).
/// </summary>
public static class TokenizerCommand
{
    private const string Usage = """
        usage: peft tokenizer train --input FILE[,FILE...] --out tokenizer.json [--vocab-size 4096] [--min-frequency 2]
        """;

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] != "train")
            throw new ArgumentException("expected 'peft tokenizer train ...'\n" + Usage);
        var options = CommandLine.Options(args[1..], "input", "out", "vocab-size", "min-frequency");
        if (!options.TryGetValue("input", out var inputs) || !options.TryGetValue("out", out var output))
            throw new ArgumentException("--input and --out are required\n" + Usage);
        var files = inputs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var f in files)
            if (!File.Exists(f)) throw new ArgumentException($"--input: file '{f}' does not exist");
        var trainerOptions = new BpeTrainerOptions
        {
            VocabSize = CommandLine.IntOption(options, "vocab-size", 4096),
            MinFrequency = CommandLine.IntOption(options, "min-frequency", 2),
        };
        var clock = Stopwatch.StartNew();
        var bpe = BpeTrainer.Train(files.Select(File.ReadAllText), trainerOptions);
        bpe.Save(output);
        Console.WriteLine($"learned {bpe.Merges.Count} merges ({bpe.VocabSize} tokens) from {files.Length} file(s) in {clock.Elapsed.TotalSeconds:F1} s; saved {output}");
        return 0;
    }
}
