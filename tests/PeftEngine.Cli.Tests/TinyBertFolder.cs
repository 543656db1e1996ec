using PeftEngine.IO;
using PeftEngine.IO.Safetensors;
using PeftEngine.Models;

namespace PeftEngine.Tests;

/// <summary>A randomly initialised two-layer BERT encoder (width 32) in an HF folder with a small WordPiece vocabulary
/// and labelled texts (two word pools, "offer" and "note"), so that classification runs take a fraction of a second per
/// step (made once per test class).</summary>
public sealed class TinyBertFolder : IDisposable
{
    private static readonly string[] OfferWords = ["cheap", "pills", "winner", "prize", "free", "cash", "click", "offer", "bonus", "deal"];
    private static readonly string[] NoteWords = ["meeting", "tomorrow", "notes", "agenda", "lunch", "report", "review", "team", "draft", "call"];

    public TinyBertFolder()
    {
        Root = Path.Combine(Path.GetTempPath(), "peft-bert-" + Guid.NewGuid().ToString("N"));
        ModelDir = Path.Combine(Root, "tiny-bert");
        Directory.CreateDirectory(ModelDir);
        string[] vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "is", "for", "you", .. OfferWords, .. NoteWords];
        File.WriteAllLines(Path.Combine(ModelDir, "vocab.txt"), vocab);
        string config = $$"""
            {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": {{vocab.Length}}, "hidden_size": 32,
             "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 32,
             "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}
            """;
        File.WriteAllText(Path.Combine(ModelDir, "config.json"), config);
        using (var bert = new BertModel((BertConfig)HfConfig.Parse(config), generator: new Generator(11)))
        using (var state = bert.StateDict())
            SafetensorsWriter.Save(Path.Combine(ModelDir, "model.safetensors"), state);
        Train = Path.Combine(Root, "train.jsonl");
        Valid = Path.Combine(Root, "valid.jsonl");
        File.WriteAllLines(Train, Records(32, seed: 1));
        File.WriteAllLines(Valid, Records(12, seed: 2));
    }

    /// <summary>A temporary folder removed at the end.</summary>
    public string Root { get; }

    /// <summary>The model folder (config.json, model.safetensors, vocab.txt).</summary>
    public string ModelDir { get; }

    /// <summary>Labelled training texts (JSONL, labels "offer" and "note").</summary>
    public string Train { get; }

    /// <summary>Labelled held-out texts.</summary>
    public string Valid { get; }

    /// <summary>Alternating labels; each text is 3..8 words, mostly from its label's pool.</summary>
    private static IEnumerable<string> Records(int count, int seed)
    {
        var rng = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            bool offer = i % 2 == 0;
            var words = Enumerable.Range(0, rng.Next(3, 9)).Select(_ =>
            {
                var pool = rng.NextDouble() < 0.8 == offer ? OfferWords : NoteWords;
                return pool[rng.Next(pool.Length)];
            });
            yield return $$"""{"text": "{{string.Join(' ', words)}}", "label": "{{(offer ? "offer" : "note")}}"}""";
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}
