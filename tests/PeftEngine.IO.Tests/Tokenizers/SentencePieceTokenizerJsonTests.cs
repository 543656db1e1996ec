using System.Text;
using System.Text.Json;
using PeftEngine.IO.Gguf;
using PeftEngine.IO.Tokenizers;

namespace PeftEngine.Tests.Tokenizers;

/// <summary>SentencePiece (GGUF "llama") vocabularies written as HF tokenizer.json: merges rebuilt from the scores,
/// and the file read back by <see cref="TokenizerJsonLoader"/> encodes like the score-driven GGUF tokenizer and like
/// llama.cpp's conformance vectors.</summary>
public class SentencePieceTokenizerJsonTests
{
    private static readonly string[] ExtraTexts =
    [
        "Hello world", " leading space", "two  spaces and\ttabs\nand new lines\n\n", "<s>[INST] Hi there! [/INST] Hello.</s>",
        "日本語のテキスト", "emoji 🦙🚀 and accents: café, naïve", "1234567890 3.14159", "",
    ];

    private static IEnumerable<string> Texts(string vectors) => TokenizerTestData.Vectors(vectors).Select(v => v.Text).Concat(ExtraTexts);

    private static TokenizerBase Exported(GgufTokenizerData data) =>
        TokenizerJsonLoader.Load(new MemoryStream(Encoding.UTF8.GetBytes(SentencePieceTokenizerJson.FromGguf(data))));

    /// <summary>Encodes every text both ways; returns how many differ (each difference is reported).</summary>
    private static void AssertSameEncodings(ITokenizer gguf, ITokenizer json, IEnumerable<string> texts)
    {
        var bad = new List<string>();
        foreach (string text in texts)
        {
            foreach (bool special in new[] { true, false })
            {
                int[] want = gguf.Encode(text, special), got = json.Encode(text, special);
                if (!want.SequenceEqual(got)) bad.Add($"'{text}' (special {special}): gguf [{string.Join(' ', want)}] json [{string.Join(' ', got)}]");
            }
            int[] ids = gguf.Encode(text, addSpecialTokens: false);
            if (gguf.Decode(ids) != json.Decode(ids)) bad.Add($"decode of '{text}': '{gguf.Decode(ids)}' vs '{json.Decode(ids)}'");
        }
        Assert.True(bad.Count == 0, string.Join("\n", bad.Take(10)));
    }

    [Fact]
    public void Merges_AreEverySplitIntoTwoPieces_RankedByTheMergedScore()
    {
        //                      0    1    2    3     4     5      6
        string[] tokens = ["a", "b", "c", "ab", "bc", "abc", "\U0001F999"];
        float[] scores = [0, 0, 0, -2, -1, -3, -5];
        var merges = SentencePieceMerges.FromScores(tokens, scores);
        // "bc" (-1) first, then "ab" (-2), then both splits of "abc" (-3) ordered by the ids of (left, right):
        // ("a", "bc") has left id 0, ("ab", "c") left id 3. The llama emoji is one code point: no split.
        Assert.Equal(new[] { ("b", "c"), ("a", "b"), ("a", "bc"), ("ab", "c") }, merges);
    }

    [Fact]
    public void Phi3Vocabulary_RoundTripsThroughTokenizerJson()
    {
        var meta = TokenizerTestData.Phi3Metadata();
        var data = new GgufTokenizerData("llama", null, (string[])meta["tokenizer.ggml.tokens"], (float[])meta["tokenizer.ggml.scores"],
            (int[])meta["tokenizer.ggml.token_type"], null, (int)(uint)meta["tokenizer.ggml.bos_token_id"], (int)(uint)meta["tokenizer.ggml.eos_token_id"],
            (int)(uint)meta["tokenizer.ggml.unknown_token_id"], null, null, null, null, null);
        var json = Exported(data);
        Assert.IsType<SentencePieceBpeTokenizer>(json);
        AssertSameEncodings(TokenizerTestData.Phi3, json, Texts("phi-3"));
        foreach (var (text, ids) in TokenizerTestData.Vectors("phi-3"))
            Assert.Equal(ids, json.Encode(text, addSpecialTokens: false));    // llama.cpp's own ids
    }

    [FactWithLlamaVocab("llama-spm")]
    public void LlamaSpmVocabulary_RoundTripsThroughTokenizerJson()
    {
        GgufTokenizerData data;
        TokenizerBase gguf;
        using (var file = GgufFile.Open(LlamaVocabularies.PathOf("llama-spm")))
        {
            data = GgufTokenizerData.FromGguf(file);
            gguf = GgufTokenizerFactory.Create(file.Metadata);
        }
        string text = SentencePieceTokenizerJson.FromGguf(data);
        var json = TokenizerJsonLoader.Load(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        AssertSameEncodings(gguf, json, Texts("llama-spm"));
        foreach (var (input, ids) in TokenizerTestData.Vectors("llama-spm"))
            Assert.Equal(ids, json.Encode(input, addSpecialTokens: false));
        Assert.Equal(new[] { 1, 15043 }, json.Encode("Hello"));                      // BOS from the post-processor, then "▁Hello"
        Assert.Equal((1, 2), (json.BosTokenId, json.EosTokenId));

        using var doc = JsonDocument.Parse(text);
        var root = doc.RootElement;
        Assert.Equal(new[] { "<unk>", "<s>", "</s>" }, root.GetProperty("added_tokens").EnumerateArray().Select(t => t.GetProperty("content").GetString()));
        Assert.True(root.GetProperty("model").GetProperty("byte_fallback").GetBoolean());
        Assert.Equal(32000, root.GetProperty("model").GetProperty("vocab").EnumerateObject().Count());
    }
}
