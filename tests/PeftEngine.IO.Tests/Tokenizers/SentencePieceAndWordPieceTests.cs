using System.Text;
using PeftEngine.IO.Tokenizers;

namespace PeftEngine.Tests.Tokenizers;

public class SentencePieceAndWordPieceTests
{
    private static Dictionary<string, int> TinySpmVocab()
    {
        var vocab = new Dictionary<string, int> { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (int b = 0; b < 256; b++) vocab[$"<0x{b:X2}>"] = 3 + b;
        foreach (var t in new[] { "▁", "h", "e", "l", "o", "w", "r", "d", "he", "ll", "▁he", "llo", "▁hello", "▁w", "or", "▁wor", "ld", "▁world" })
            vocab[t] = vocab.Count;
        return vocab;
    }

    private static readonly (string, string)[] TinyMerges =
    [
        ("h", "e"), ("l", "l"), ("▁", "he"), ("ll", "o"), ("▁he", "llo"), ("▁", "w"), ("o", "r"), ("▁w", "or"), ("l", "d"), ("▁wor", "ld"),
    ];

    [Fact]
    public void SentencePieceMerges_EncodeAndByteFallback()
    {
        var vocab = TinySpmVocab();
        var tok = new SentencePieceBpeTokenizer(vocab, TinyMerges);
        tok.AddTokens([new AddedToken(1, "<s>"), new AddedToken(2, "</s>")]);
        tok.PrefixTokens = [1];
        tok.BosTokenId = 1;
        Assert.Equal([1, vocab["▁hello"], vocab["▁world"]], tok.Encode("hello world"));
        // 'é' is not in the vocabulary: it falls back to its two UTF-8 bytes.
        int[] ids = tok.Encode("hé", addSpecialTokens: false);
        Assert.Equal([vocab["▁"], vocab["h"], vocab["<0xC3>"], vocab["<0xA9>"]], ids);
        Assert.Equal("hé", tok.Decode(ids));
        Assert.Equal("hello world", tok.Decode(tok.Encode("hello world"), skipSpecialTokens: true));
        Assert.Equal(0, tok.UnkTokenId);
    }

    [Fact]
    public void SentencePiece_WithoutByteFallback_FusesUnknownCharacters()
    {
        var vocab = TinySpmVocab();
        var tok = new SentencePieceBpeTokenizer(vocab, TinyMerges, byteFallback: false);
        Assert.Equal([vocab["▁"], 0, vocab["h"]], tok.Encode("ßçh", addSpecialTokens: false));
    }

    [Fact]
    public void SentencePieceScores_HighestScoringMergeFirst()
    {
        var vocab = new Dictionary<string, int> { ["<unk>"] = 0, ["a"] = 1, ["b"] = 2, ["c"] = 3, ["ab"] = 4, ["bc"] = 5, ["▁"] = 6 };
        float[] scores = [0, 0, 0, 0, -2f, -1f, 0];
        var tok = new SentencePieceBpeTokenizer(vocab, scores, byteFallback: false, addPrefixSpace: false);
        Assert.Equal([1, 5], tok.Encode("abc"));
        scores[4] = 0.5f;
        var tok2 = new SentencePieceBpeTokenizer(vocab, scores, byteFallback: false, addPrefixSpace: false);
        Assert.Equal([4, 3], tok2.Encode("abc"));
    }

    [Theory]
    [InlineData("Hello world")]
    [InlineData(" leading space")]
    [InlineData("emoji 🦙 and 中文")]
    [InlineData("multiple   spaces\tand\nnewlines")]
    public void Phi3_RoundTripsAndAddsBos(string text)
    {
        var tok = TokenizerTestData.Phi3;
        int[] ids = tok.Encode(text);
        Assert.Equal(1, ids[0]);
        Assert.Equal(text, tok.Decode(ids, skipSpecialTokens: true));
        Assert.DoesNotContain(0, ids);
    }

    [Fact]
    public void Bert_AddsClsAndSep_AndDecodesPieces()
    {
        var tok = TokenizerTestData.Bert;
        int[] ids = tok.Encode("Hello, world!");
        Assert.Equal([101, 7592, 1010, 2088, 999, 102], ids);
        Assert.Equal("hello, world!".Replace(",", " ,").Replace("!", " !"), tok.Decode(ids, skipSpecialTokens: true));
        Assert.Equal(0, tok.PadTokenId);
        Assert.Equal(100, tok.UnkTokenId);
        Assert.Equal(30522, tok.VocabSize);
    }

    [Fact]
    public void Bert_WordPieceContinuationsAndUnknowns()
    {
        var tok = TokenizerTestData.Bert;
        int[] ids = tok.Encode(" discards", addSpecialTokens: false);
        Assert.Equal([5860, 18117], ids);
        Assert.Equal("##s", tok.IdToToken(ids[1])![..2] + tok.IdToToken(ids[1])![^1..]);
        Assert.Equal("discards", tok.Decode(ids));
        // A word longer than 100 characters is a single [UNK].
        Assert.Equal([100], tok.Encode(new string('a', 101), addSpecialTokens: false));
        // Special tokens written in the text are recognised.
        Assert.Equal([101, 7592, 102], tok.Encode("[CLS] hello [SEP]", addSpecialTokens: false));
    }

    [Fact]
    public void BertPreTokenizer_LowercasesStripsAccentsAndSplitsCjkAndPunctuation()
    {
        var pre = new BertPreTokenizer();
        Assert.Equal(["apfel", "cua", "viet", "我", "想", "$", "5", "!"], pre.Split("Äpfel Cửa\u00A0Việt我想$5!"));
        var cased = new BertPreTokenizer(lowercase: false);
        Assert.Equal(["Äpfel", "-", "x"], cased.Split("Äpfel-x\u200B"));
    }

    [Fact]
    public void TokenizerJson_WordPieceWithTemplate_AndSpmWithPairMerges()
    {
        string wordPiece = """
        {"added_tokens":[{"id":0,"content":"[PAD]","special":true},{"id":1,"content":"[UNK]","special":true},
                         {"id":2,"content":"[CLS]","special":true},{"id":3,"content":"[SEP]","special":true}],
         "normalizer":{"type":"BertNormalizer","lowercase":true,"strip_accents":null,"handle_chinese_chars":true,"clean_text":true},
         "pre_tokenizer":{"type":"BertPreTokenizer"},
         "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],
                           "special_tokens":{"[CLS]":{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[3],"tokens":["[SEP]"]}}},
         "model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,
                  "vocab":{"[PAD]":0,"[UNK]":1,"[CLS]":2,"[SEP]":3,"un":4,"##aff":5,"##able":6,"runs":7}}}
        """;
        var wp = TokenizerJsonLoader.Load(new MemoryStream(Encoding.UTF8.GetBytes(wordPiece)));
        Assert.IsType<WordPieceTokenizer>(wp);
        Assert.Equal([2, 4, 5, 6, 7, 1, 3], wp.Encode("Unaffable runs fast"));
        Assert.Equal(2, wp.BosTokenId);
        Assert.Equal(3, wp.EosTokenId);

        string spm = """
        {"added_tokens":[{"id":0,"content":"<unk>","special":true},{"id":1,"content":"<s>","special":true}],
         "normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},
         "pre_tokenizer":null,
         "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}},
         "decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]},
         "model":{"type":"BPE","unk_token":"<unk>","fuse_unk":true,"byte_fallback":false,
                  "vocab":{"<unk>":0,"<s>":1,"▁":2,"a":3,"b":4,"▁a":5,"▁ab":6},"merges":[["▁","a"],["▁a","b"]]}}
        """;
        var sp = TokenizerJsonLoader.Load(new MemoryStream(Encoding.UTF8.GetBytes(spm)));
        Assert.IsType<SentencePieceBpeTokenizer>(sp);
        Assert.Equal([1, 6, 5], sp.Encode("ab a"));
        Assert.Equal("ab a", sp.Decode([1, 6, 5], skipSpecialTokens: true));
    }

    [Fact]
    public void TokenizerJson_RejectsUnsupportedModel()
    {
        string json = """{"model":{"type":"Unigram","vocab":[]}}""";
        var ex = Assert.Throws<NotSupportedException>(() => TokenizerJsonLoader.Load(new MemoryStream(Encoding.UTF8.GetBytes(json))));
        Assert.Contains("Unigram", ex.Message);
    }
}
