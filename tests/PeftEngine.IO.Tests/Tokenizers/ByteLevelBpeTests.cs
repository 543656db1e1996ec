using PeftEngine.IO.Tokenizers;

namespace PeftEngine.Tests.Tokenizers;

public class ByteLevelBpeTests
{
    public static TheoryData<string> RoundTripStrings => new()
    {
        "",
        "Hello world",
        "  leading and trailing   ",
        "tabs\tand\nnewlines\r\n\n\n",
        "emoji 🦙🚀😶‍🌫️ and flags 🇫🇷",
        "ünïcödé Ärger naïve café",
        "中文字符和日本語のテキスト",
        "Ελληνικά русский עברית العربية",
        "mixed123numbers4567 and 3.14159",
        "𝐀𝐁𝐂 math letters outside the BMP",
        "'s 't 're 've 'm 'll 'd contractions I'm they'll",
        "\u0000\u0001 control chars \u007f",
    };

    [Fact]
    public void Alphabet_MapsEveryByteToADistinctPrintableChar()
    {
        var chars = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ByteToChar((byte)b)).ToList();
        Assert.Equal(256, chars.Distinct().Count());
        Assert.Equal('Ġ', ByteLevelAlphabet.ByteToChar((byte)' '));
        Assert.Equal('Ċ', ByteLevelAlphabet.ByteToChar((byte)'\n'));
        Assert.Equal('A', ByteLevelAlphabet.ByteToChar((byte)'A'));
        Assert.All(chars, c => Assert.False(char.IsWhiteSpace(c) || char.IsControl(c)));
    }

    [Fact]
    public void Gpt2_KnownEncodings()
    {
        var tok = TokenizerTestData.Gpt2;
        Assert.Equal([15496, 995], tok.Encode("Hello world"));
        Assert.Equal(50257, tok.VocabSize);
        Assert.Equal(50256, tok.EosTokenId);
        Assert.Equal(50256, tok.BosTokenId);
        Assert.Equal("Hello world", tok.Decode([15496, 995]));
        // GPT-2 adds no special tokens by itself.
        Assert.Equal(tok.Encode("Hello world", addSpecialTokens: false), tok.Encode("Hello world", addSpecialTokens: true));
    }

    [Theory]
    [MemberData(nameof(RoundTripStrings))]
    public void Gpt2_DecodeEncode_RoundTrips(string text)
    {
        var tok = TokenizerTestData.Gpt2;
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
    }

    [Theory]
    [MemberData(nameof(RoundTripStrings))]
    public void Qwen_DecodeEncode_RoundTrips(string text)
    {
        var tok = TokenizerTestData.Qwen;
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
    }

    [Fact]
    public void Gpt2_EndOfTextIsMatchedAsSpecialToken_AndCanBeSkipped()
    {
        var tok = TokenizerTestData.Gpt2;
        int[] ids = tok.Encode("Hi<|endoftext|>there");
        Assert.Equal([17250, 50256, 8117], ids);
        Assert.Equal("Hi<|endoftext|>there", tok.Decode(ids));
        Assert.Equal("Hithere", tok.Decode(ids, skipSpecialTokens: true));

        tok.ParseAddedTokens = false;
        try
        {
            Assert.DoesNotContain(50256, tok.Encode("Hi<|endoftext|>there"));
        }
        finally
        {
            tok.ParseAddedTokens = true;
        }
    }

    [Fact]
    public void Gpt2_RepeatedEncodingUsesTheCacheConsistently()
    {
        var tok = TokenizerTestData.Gpt2;
        string text = string.Join(" ", Enumerable.Repeat("tokenization caching works", 50));
        int[] first = tok.Encode(text);
        Assert.Equal(first, tok.Encode(text));
        Assert.Equal(text, tok.Decode(first));
    }

    [Fact]
    public void Qwen_SpecialTokensAndIds()
    {
        var tok = TokenizerTestData.Qwen;
        Assert.IsType<ByteLevelBpeTokenizer>(tok);
        Assert.Equal(151644, tok.TokenToId("<|im_start|>"));
        Assert.Equal(151643, tok.EosTokenId);
        Assert.True(tok.VocabSize > 151645);
        int[] ids = tok.Encode("<|im_start|>user\nHello<|im_end|>");
        Assert.Equal(151644, ids[0]);
        Assert.Equal(151645, ids[^1]);
        Assert.Equal("user\nHello", tok.Decode(ids, skipSpecialTokens: true));
        // Digits are split one by one by Qwen2's pre-tokenizer.
        Assert.Equal(3, tok.Encode("123").Length);
    }

    [Fact]
    public void InvalidUtf8Prefix_DecodesWithReplacementCharacter()
    {
        var tok = TokenizerTestData.Gpt2;
        int[] ids = tok.Encode("🦙");
        Assert.True(ids.Length > 1);
        Assert.Equal("🦙", tok.Decode(ids));
        Assert.Contains('\uFFFD', tok.Decode(ids[..1]));
    }

    [Fact]
    public void MergePriority_LowerRankWins_AndTiesGoLeft()
    {
        // Vocabulary of single letters plus merges; "ab" (rank 0) must win over "bc" (rank 1) in "abc".
        var vocab = Enumerable.Range(0, 256).ToDictionary(b => ByteLevelAlphabet.ByteToChar((byte)b).ToString(), b => b);
        vocab["ab"] = 256;
        vocab["bc"] = 257;
        vocab["abc"] = 258;
        vocab["aa"] = 259;
        var tok = new ByteLevelBpeTokenizer(vocab, [("a", "b"), ("b", "c"), ("a", "a"), ("ab", "c")], pattern: null);
        Assert.Equal([258], tok.Encode("abc"));
        Assert.Equal([257], tok.Encode("bc"));
        // "aaa": the leftmost pair merges first -> "aa" + "a".
        Assert.Equal([259, 97], tok.Encode("aaa"));
        var tok2 = new ByteLevelBpeTokenizer(vocab, [("b", "c"), ("a", "b")], pattern: null);
        Assert.Equal([97, 257], tok2.Encode("abc"));
    }

    [Fact]
    public void Constructor_RejectsVocabularyWithoutAllBytes()
    {
        var vocab = new Dictionary<string, int> { ["a"] = 0 };
        var ex = Assert.Throws<ArgumentException>(() => new ByteLevelBpeTokenizer(vocab, []));
        Assert.Contains("byte", ex.Message);
    }

    [Fact]
    public void IgnoreMerges_EmitsWholeWordTokensDirectly()
    {
        var vocab = Enumerable.Range(0, 256).ToDictionary(b => ByteLevelAlphabet.ByteToChar((byte)b).ToString(), b => b);
        vocab["xyz"] = 256;   // reachable by no merge
        var plain = new ByteLevelBpeTokenizer(vocab, [], pattern: null);
        var llama3Style = new ByteLevelBpeTokenizer(vocab, [], pattern: null, ignoreMerges: true);
        Assert.Equal([120, 121, 122], plain.Encode("xyz"));
        Assert.Equal([256], llama3Style.Encode("xyz"));
    }

    [Fact]
    public void TokenizerJson_ByteLevelWithDefaultRegex_SplitsLikeGpt2()
    {
        var vocab = Enumerable.Range(0, 256).ToDictionary(b => ByteLevelAlphabet.ByteToChar((byte)b).ToString(), b => b);
        vocab["Ġa"] = 256;
        var json = new System.Text.Json.Nodes.JsonObject
        {
            ["pre_tokenizer"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true },
            ["decoder"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new System.Text.Json.Nodes.JsonObject
            {
                ["type"] = "BPE",
                ["vocab"] = new System.Text.Json.Nodes.JsonObject(vocab.Select(kv => KeyValuePair.Create(kv.Key, (System.Text.Json.Nodes.JsonNode?)kv.Value))),
                ["merges"] = new System.Text.Json.Nodes.JsonArray("Ġ a"),
            },
        };
        var tok = TokenizerJsonLoader.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString())));
        var bl = Assert.IsType<ByteLevelBpeTokenizer>(tok);
        Assert.Equal(1, bl.MergeCount);
        // " a" is one GPT-2 word and merges; "a a" -> "a", " a".
        Assert.Equal([97, 256], tok.Encode("a a"));
        Assert.Equal("a a", tok.Decode([97, 256]));
    }
}
