using System.IO.Compression;
using System.Text;
using System.Text.Json;
using PeftEngine.IO.Tokenizers;

namespace PeftEngine.Tests.Tokenizers;

/// <summary>Locates and loads the committed tokenizer data (see TestData/Tokenizers/make-data.sh).</summary>
internal static class TokenizerTestData
{
    private static readonly Lazy<string> Dir = new(() =>
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "tests", "PeftEngine.IO.Tests", "TestData", "Tokenizers");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("TestData/Tokenizers not found above " + AppContext.BaseDirectory);
    });

    public static string PathOf(string name) => Path.Combine(Dir.Value, name);

    public static Stream OpenGz(string name) => new GZipStream(File.OpenRead(PathOf(name)), CompressionMode.Decompress);

    private static readonly Lazy<ByteLevelBpeTokenizer> Gpt2Lazy = new(() =>
    {
        using var enc = OpenGz("gpt2-encoder.json.gz");
        using var bpe = OpenGz("gpt2-vocab.bpe.gz");
        return VocabFileLoader.LoadGpt2(enc, bpe);
    });

    private static readonly Lazy<TokenizerBase> QwenLazy = new(() =>
    {
        using var s = OpenGz("qwen3-tokenizer.json.gz");
        return TokenizerJsonLoader.Load(s);
    });

    private static readonly Lazy<WordPieceTokenizer> BertLazy = new(() =>
    {
        using var s = OpenGz("bert-bge-vocab.txt.gz");
        return VocabFileLoader.LoadBert(s);
    });

    private static readonly Lazy<SentencePieceBpeTokenizer> Phi3Lazy = new(() =>
        (SentencePieceBpeTokenizer)GgufTokenizerFactory.Create(Phi3Metadata()));

    /// <summary>phi-3's tokenizer.ggml.* metadata as a GGUF reader would return it.</summary>
    public static Dictionary<string, object> Phi3Metadata()
    {
        using var s = OpenGz("phi3-spm-vocab.json.gz");
        using var doc = JsonDocument.Parse(s);
        var root = doc.RootElement;
        return new Dictionary<string, object>
        {
            ["tokenizer.ggml.model"] = root.GetProperty("model").GetString()!,
            ["tokenizer.ggml.tokens"] = root.GetProperty("tokens").EnumerateArray().Select(e => e.GetString()!).ToArray(),
            ["tokenizer.ggml.scores"] = root.GetProperty("scores").EnumerateArray().Select(e => e.GetSingle()).ToArray(),
            ["tokenizer.ggml.token_type"] = root.GetProperty("token_type").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            ["tokenizer.ggml.bos_token_id"] = (uint)root.GetProperty("bos_token_id").GetInt32(),
            ["tokenizer.ggml.eos_token_id"] = (uint)root.GetProperty("eos_token_id").GetInt32(),
            ["tokenizer.ggml.unknown_token_id"] = (uint)root.GetProperty("unknown_token_id").GetInt32(),
        };
    }

    public static ByteLevelBpeTokenizer Gpt2 => Gpt2Lazy.Value;
    public static TokenizerBase Qwen => QwenLazy.Value;
    public static WordPieceTokenizer Bert => BertLazy.Value;
    public static SentencePieceBpeTokenizer Phi3 => Phi3Lazy.Value;

    /// <summary>Reads llama.cpp's test strings and expected ids (vectors/ggml-vocab-NAME.gguf.inp/.out).</summary>
    public static List<(string Text, int[] Ids)> Vectors(string name)
    {
        string inp = File.ReadAllText(PathOf($"vectors/ggml-vocab-{name}.gguf.inp"), new UTF8Encoding(false));
        var outLines = File.ReadAllLines(PathOf($"vectors/ggml-vocab-{name}.gguf.out"));
        const string sep = "\n__ggml_vocab_test__\n";
        var texts = new List<string>();
        int pos = 0;
        while (pos < inp.Length)
        {
            int next = inp.IndexOf(sep, pos, StringComparison.Ordinal);
            if (next < 0)
            {
                texts.Add(inp.Substring(pos));
                break;
            }
            texts.Add(inp.Substring(pos, next - pos));
            pos = next + sep.Length;
        }
        if (texts.Count != outLines.Length)
            throw new InvalidDataException($"{name}: {texts.Count} inputs but {outLines.Length} expected outputs.");
        return texts.Select((t, i) => (t, outLines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray())).ToList();
    }
}
