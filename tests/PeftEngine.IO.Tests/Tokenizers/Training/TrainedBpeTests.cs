using PeftEngine.IO.Tokenizers;
using PeftEngine.IO.Tokenizers.Training;

namespace PeftEngine.Tests.Tokenizers.Training;

public class TrainedBpeTests
{
    private static readonly Lazy<TrainedBpe> Trained = new(() =>
        BpeTrainer.Train([BpeTrainerTests.Corpus(4000, seed: 11)], new BpeTrainerOptions { VocabSize = 500 }));

    public static TheoryData<string> Strings => new()
    {
        "",
        "the quick fox jumps over the lazy dog",
        "  leading, trailing and   inner   spaces  ",
        "tabs\tnewlines\n\r\n\n and a form feed \f",
        "emoji 🦙🚀😶‍🌫️ flags 🇫🇷 and skin tones 👍🏽",
        "ünïcödé café 中文 日本語 русский العربية 𝐀𝐁𝐂",
        "\u0000\u0001 control \u007f chars \u00a0 nbsp \u2028 line sep",
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nthe answer<|im_end|><|endoftext|>",
    };

    [Theory]
    [MemberData(nameof(Strings))]
    public void SavedFile_ReloadsAndRoundTrips(string text)
    {
        using var dir = new TempDir();
        string path = dir.File("tokenizer.json");
        Trained.Value.Save(path);
        var tok = TokenizerJsonLoader.Load(path);
        Assert.IsType<ByteLevelBpeTokenizer>(tok);
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
    }

    [Fact]
    public void Reloaded_HasTheVocabularyMergesAndSpecialIds()
    {
        var bpe = Trained.Value;
        var tok = (ByteLevelBpeTokenizer)bpe.ToTokenizer();
        Assert.Equal(500, tok.VocabSize);
        Assert.Equal(bpe.Merges.Count, tok.MergeCount);
        Assert.Equal(0, tok.EosTokenId);
        Assert.Equal(1, tok.PadTokenId);
        for (int id = 0; id < bpe.VocabSize; id++) Assert.Equal(bpe.Tokens[id], tok.IdToToken(id));
        Assert.Equal([2], tok.Encode("<|im_start|>"));
        Assert.True(tok.IsSpecial(3));
    }

    [Fact]
    public void FrequentWords_BecomeSingleTokens()
    {
        var tok = Trained.Value.ToTokenizer();
        // " the" is the most frequent two-syllable word of the corpus; it must have been learned whole.
        int[] ids = tok.Encode(" the the the");
        Assert.Equal(3, ids.Length);
        Assert.Equal("Ġthe", tok.IdToToken(ids[0]));
        // Text the corpus never had still encodes (byte by byte at worst).
        Assert.True(tok.Encode("🦙").Length >= 1);
    }

    [Fact]
    public void CustomPattern_IsWrittenAsASplitPreTokenizer()
    {
        var bpe = BpeTrainer.Train(["a1234 b5678 a1234"], new BpeTrainerOptions { Pattern = PreTokenizerPatterns.Qwen2, MinFrequency = 2 });
        Assert.Contains("\"Split\"", bpe.ToJson());
        var tok = bpe.ToTokenizer();
        Assert.Equal("a1234 b5678", tok.Decode(tok.Encode("a1234 b5678")));
        Assert.DoesNotContain(bpe.Tokens, t => t.Length > 1 && t.All(char.IsDigit));   // Qwen2 keeps digits apart
    }
}
