using System.Text.Json;
using PeftEngine.IO.Gguf;
using PeftEngine.IO.Tokenizers;
using Xunit.Abstractions;

namespace PeftEngine.Tests.Tokenizers;

/// <summary>
/// Tokenizers built from GGUF-style metadata (tokens, merges, scores, token types) reproduce llama.cpp's vectors.
/// The metadata is rebuilt from the committed vocabulary files in the layout a GGUF reader returns.
/// </summary>
public class GgufTokenizerFactoryTests(ITestOutputHelper output)
{
    private void AssertVectors(ITokenizer tok, string name)
    {
        var vectors = TokenizerTestData.Vectors(name);
        int ok = vectors.Count(v => tok.Encode(v.Text, addSpecialTokens: false).SequenceEqual(v.Ids));
        output.WriteLine($"{name} via GGUF metadata: {ok}/{vectors.Count} match");
        Assert.Equal(vectors.Count, ok);
    }

    [Fact]
    public void Gpt2Metadata()
    {
        Dictionary<string, int> encoder;
        using (var s = TokenizerTestData.OpenGz("gpt2-encoder.json.gz")) encoder = JsonSerializer.Deserialize<Dictionary<string, int>>(s)!;
        List<string> merges;
        using (var r = new StreamReader(TokenizerTestData.OpenGz("gpt2-vocab.bpe.gz")))
            merges = r.ReadToEnd().Split('\n').Skip(1).Where(l => l.Length > 0).ToList();
        var tokens = encoder.OrderBy(kv => kv.Value).Select(kv => kv.Key).ToList<object>();
        var types = tokens.Select(t => (object)((string)t == "<|endoftext|>" ? 3 : 1)).ToList();
        var meta = new Dictionary<string, object>
        {
            ["tokenizer.ggml.model"] = "gpt2",
            ["tokenizer.ggml.pre"] = "gpt-2",
            ["tokenizer.ggml.tokens"] = tokens,
            ["tokenizer.ggml.token_type"] = types,
            ["tokenizer.ggml.merges"] = merges,
            ["tokenizer.ggml.bos_token_id"] = 50256u,
            ["tokenizer.ggml.eos_token_id"] = 50256u,
        };
        var tok = GgufTokenizerFactory.Create(meta);
        Assert.IsType<ByteLevelBpeTokenizer>(tok);
        Assert.Empty(tok.PrefixTokens);
        Assert.True(tok.IsSpecial(50256));
        AssertVectors(tok, "gpt-2");
    }

    [Fact]
    public void Qwen2Metadata()
    {
        using var s = TokenizerTestData.OpenGz("qwen3-tokenizer.json.gz");
        using var doc = JsonDocument.Parse(s);
        var model = doc.RootElement.GetProperty("model");
        var byId = new SortedDictionary<int, (string Token, int Type)>();
        foreach (var p in model.GetProperty("vocab").EnumerateObject()) byId[p.Value.GetInt32()] = (p.Name, 1);
        foreach (var a in doc.RootElement.GetProperty("added_tokens").EnumerateArray())
            byId[a.GetProperty("id").GetInt32()] = (a.GetProperty("content").GetString()!, a.GetProperty("special").GetBoolean() ? 3 : 4);
        Assert.Equal(byId.Count, byId.Keys.Max() + 1);
        var meta = new Dictionary<string, object>
        {
            ["model"] = "gpt2",
            ["pre"] = "qwen2",
            ["tokens"] = byId.Values.Select(v => v.Token).ToArray(),
            ["token_type"] = byId.Values.Select(v => v.Type).ToArray(),
            ["merges"] = model.GetProperty("merges").EnumerateArray().Select(m => m[0].GetString() + " " + m[1].GetString()).ToArray(),
            ["eos_token_id"] = 151643,
            ["padding_token_id"] = 151643,
        };
        var tok = GgufTokenizerFactory.Create(meta);
        Assert.Equal(151643, tok.PadTokenId);
        Assert.True(tok.IsSpecial(151644));
        AssertVectors(tok, "qwen2");
    }

    [Fact]
    public void BertMetadata_InPhantomSpaceForm()
    {
        var vocab = new List<string>();
        using (var r = new StreamReader(TokenizerTestData.OpenGz("bert-bge-vocab.txt.gz")))
            for (string? l = r.ReadLine(); l is not null; l = r.ReadLine()) vocab.Add(l);
        // llama.cpp's conversion: word starts get '▁', continuations lose "##", [BRACKETED] tokens stay.
        var phantom = vocab.Select(t => t.StartsWith('[') && t.EndsWith(']') ? t : t.StartsWith("##") ? t[2..] : "\u2581" + t).ToArray();
        var meta = new Dictionary<string, object>
        {
            ["tokenizer.ggml.model"] = "bert",
            ["tokenizer.ggml.tokens"] = phantom,
            ["tokenizer.ggml.unknown_token_id"] = 100u,
            ["tokenizer.ggml.seperator_token_id"] = 102u,
            ["tokenizer.ggml.padding_token_id"] = 0u,
            ["tokenizer.ggml.cls_token_id"] = 101u,
        };
        var tok = GgufTokenizerFactory.Create(meta);
        Assert.Equal([101, 7592, 102], tok.Encode("hello"));
        Assert.Equal(0, tok.PadTokenId);
        AssertVectors(tok, "bert-bge");
    }

    [Fact]
    public void Phi3Metadata_AddsBosByDefault()
    {
        var tok = GgufTokenizerFactory.Create(TokenizerTestData.Phi3Metadata());
        Assert.Equal([1], tok.PrefixTokens);
        Assert.Equal(32000, tok.EosTokenId);
        Assert.Equal(0, tok.UnkTokenId);
        Assert.True(tok.IsSpecial(32000));
        AssertVectors(tok, "phi-3");
    }

    [Fact]
    public void Phi3Metadata_ReadBackFromAGgufFile()
    {
        // the arrays of GgufFile.Metadata (GgufArray) are accepted like plain lists
        var meta = TokenizerTestData.Phi3Metadata();
        string path = Path.Combine(Path.GetTempPath(), $"phi3-vocab-{Guid.NewGuid():N}.gguf");
        try
        {
            new GgufWriter()
                .AddString("tokenizer.ggml.model", (string)meta["tokenizer.ggml.model"])
                .AddArray("tokenizer.ggml.tokens", GgufValueType.String, (string[])meta["tokenizer.ggml.tokens"])
                .AddArray("tokenizer.ggml.scores", GgufValueType.Float32, (float[])meta["tokenizer.ggml.scores"])
                .AddArray("tokenizer.ggml.token_type", GgufValueType.Int32, (int[])meta["tokenizer.ggml.token_type"])
                .AddUInt32("tokenizer.ggml.bos_token_id", (uint)meta["tokenizer.ggml.bos_token_id"])
                .AddUInt32("tokenizer.ggml.eos_token_id", (uint)meta["tokenizer.ggml.eos_token_id"])
                .AddUInt32("tokenizer.ggml.unknown_token_id", (uint)meta["tokenizer.ggml.unknown_token_id"])
                .Save(path);
            using var file = GgufFile.Open(path);
            var tok = GgufTokenizerFactory.Create(file.Metadata);
            Assert.Equal([1], tok.PrefixTokens);
            AssertVectors(tok, "phi-3");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void UnknownModelOrPreTokenizer_Throws()
    {
        var ex = Assert.Throws<NotSupportedException>(() => GgufTokenizerFactory.Create(new Dictionary<string, object>
        {
            ["tokenizer.ggml.model"] = "t5",
            ["tokenizer.ggml.tokens"] = new[] { "a" },
        }));
        Assert.Contains("t5", ex.Message);
        Assert.Throws<InvalidDataException>(() => GgufTokenizerFactory.Create(new Dictionary<string, object>()));
    }
}
