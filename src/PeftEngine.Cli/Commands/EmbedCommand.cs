using System.ComponentModel;
using PeftEngine.Cli.Classify;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>
/// <c>peft embed [--model DIR] [--pooling mean|cls] [--max-length N] "sentence" ...</c>: sentence embeddings from a BERT
/// folder (config.json, model.safetensors, vocab.txt), the way sentence-transformers computes them for
/// all-MiniLM-L6-v2 (mean over the real tokens, then L2 normalisation). Prints each embedding's first values and
/// norm, then the cosine similarity of every pair of sentences.
/// </summary>
public sealed class EmbedCommand : Command<EmbedCommand.Settings>
{
    /// <summary>Options of <c>peft embed</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<SENTENCES>"), Description("One or more sentences to embed")]
        public string[] Sentences { get; init; } = [];

        [CommandOption("--model <DIR>"), Description("A BERT folder (config.json, model.safetensors, vocab.txt), or minilm, imported on first use (default: minilm)")]
        public string Model { get; init; } = ClassifyOptions.DefaultModel;

        [CommandOption("--pooling <POOLING>"), Description("mean (over the real tokens) or cls (the first token's state) (default: mean)")]
        public string Pooling { get; init; } = "mean";

        [CommandOption("--max-length <N>"), Description("Longest input in tokens; longer sentences are cut (default: 256)")]
        public int MaxLength { get; init; } = 256;
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var sentences = settings.Sentences;
        if (sentences.Length == 0) throw new ArgumentException("embed needs at least one sentence");
        string pooling = settings.Pooling;
        if (pooling is not ("mean" or "cls")) throw new ArgumentException($"--pooling must be mean or cls, got '{pooling}'");
        int maxLength = settings.MaxLength;
        if (maxLength < 2) throw new ArgumentException($"--max-length must be at least 2, got {maxLength}");
        string dir = ShippedEncoder.Resolve(settings.Model, Console.Error.WriteLine);
        string vocab = Path.Combine(dir, "vocab.txt");
        if (!File.Exists(vocab)) throw new ArgumentException($"'{vocab}' not found: the model folder needs a BERT vocab.txt");

        var tokenizer = VocabFileLoader.LoadBert(vocab);
        BertModel model;
        try
        {
            model = BertModel.FromPretrained(dir);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException)
        {
            Console.Error.WriteLine($"peft: cannot load a BERT model from '{dir}': {e.Message}");
            return 1;
        }
        using var _ = model;
        var batch = BatchEncoder.Encode(tokenizer, sentences, new BatchEncodeOptions { Truncation = true, MaxLength = maxLength });
        int b = batch.InputIds.Length, t = batch.InputIds[0].Length;
        using var grad = GradMode.Disable();
        using var ids = Tensor.FromArray(batch.FlatInputIds(), b, t);
        using var mask = Tensor.FromArray(batch.FlatAttentionMask(), b, t);
        using var outputs = model.Forward(ids, mask, computePooled: false);
        using var pooled = pooling == "mean" ? SentencePooling.Mean(outputs.LastHiddenState, mask) : SentencePooling.Cls(outputs.LastHiddenState);
        using var embeddings = SentencePooling.L2Normalize(pooled);
        var values = embeddings.ToFloatArray();
        int c = values.Length / b;

        Console.WriteLine($"{dir}: {c}-dimensional embeddings, {pooling} pooling + L2 normalisation");
        for (int i = 0; i < b; i++)
        {
            var row = values.AsSpan(i * c, c);
            double norm = Math.Sqrt(row.ToArray().Sum(v => (double)v * v));
            int tokens = batch.AttentionMask[i].Sum();
            Console.WriteLine($"[{i}] \"{sentences[i]}\" ({tokens} tokens)");
            Console.WriteLine($"    [{string.Join(", ", row[..Math.Min(6, c)].ToArray().Select(v => v.ToString("F4")))}, ...] norm {norm:F4}");
        }
        if (b > 1)
        {
            Console.WriteLine("cosine similarity:");
            for (int i = 0; i < b; i++)
                for (int j = i + 1; j < b; j++)
                    Console.WriteLine($"    [{i}] ~ [{j}]  {SentencePooling.Cosine(values.AsSpan(i * c, c), values.AsSpan(j * c, c)):F4}");
        }
        return 0;
    }
}
