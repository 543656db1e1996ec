using PeftEngine.IO.Gguf;
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

    /// <summary>The tokenizer described by the tokenizer.ggml.* metadata of llama.cpp's vocabulary file.</summary>
    private static TokenizerBase FromVocabGguf(string name)
    {
        using var file = GgufFile.Open(LlamaVocabularies.PathOf(name));
        return GgufTokenizerFactory.Create(file.Metadata);
    }

    [FactWithLlamaVocab("llama-spm")]
    public void LlamaSpm_FromGgufVocabulary_MatchesLlamaCppVectors()
    {
        // Llama-2: SentencePiece BPE by scores with byte fallback, "\u2581" prefix space
        var tok = FromVocabGguf("llama-spm");
        Assert.IsType<SentencePieceBpeTokenizer>(tok);
        Assert.Equal(15043, tok.TokenToId("\u2581Hello"));
        Assert.Equal(0, CountMismatches(tok, "llama-spm"));
        foreach (var (text, ids) in TokenizerTestData.Vectors("llama-spm"))
            Assert.Equal(text, tok.Decode(ids));
    }

    [FactWithLlamaVocab("llama-bpe")]
    public void LlamaBpe_FromGgufVocabulary_MatchesLlamaCppVectors()
    {
        // Llama-3: byte-level BPE with the llama-bpe pre-tokenizer (digits in groups of up to three)
        var tok = FromVocabGguf("llama-bpe");
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
