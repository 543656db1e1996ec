using PeftEngine.IO.Datasets;
using PeftEngine.IO.Tokenizers;
using PeftEngine.IO.Tokenizers.Training;

namespace PeftEngine.Tests.Tokenizers.Training;

/// <summary>The committed tokenizer and data of models/tiny-llama are what the code and scripts produce.</summary>
public class ShippedTinyLlamaDataTests
{
    private static readonly Lazy<string> Folder = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", "tiny-llama");
            if (File.Exists(Path.Combine(candidate, "tokenizer.json"))) return candidate;
        }
        throw new DirectoryNotFoundException($"models/tiny-llama not found above {AppContext.BaseDirectory}");
    });

    private static string FileOf(string relative) => Path.Combine(Folder.Value, relative);

    [Fact]
    public void Tokenizer_RoundTripsTheHeldOutText_AndCompressesIt()
    {
        var tok = TokenizerJsonLoader.Load(FileOf("tokenizer.json"));
        Assert.Equal(4096, tok.VocabSize);
        string text = File.ReadAllText(FileOf("data/pretrain-valid.txt"));
        int[] ids = tok.Encode(text, addSpecialTokens: false);
        Assert.Equal(text, tok.Decode(ids));
        Assert.Equal(20, ids.Count(id => id == tok.EosTokenId));   // one <|endoftext|> between each of the 21 documents
        Assert.True(text.Length / (double)ids.Length > 3.5, $"{text.Length} characters became {ids.Length} tokens");
    }

    [Fact]
    public void Tokenizer_IsExactlyWhatTrainingOnTheCommittedTextGives()
    {
        var bpe = BpeTrainer.Train([File.ReadAllText(FileOf("data/pretrain-train.txt"))], new BpeTrainerOptions { VocabSize = 4096 });
        Assert.Equal(File.ReadAllText(FileOf("tokenizer.json")), bpe.ToJson());
    }

    [Theory]
    [InlineData("data/qa-train.jsonl", 2000)]
    [InlineData("data/qa-valid.jsonl", 200)]
    public void QaSets_AreAlpacaRecordsWhoseAnswerIsInThePassage(string file, int count)
    {
        var records = JsonlDataset.Read(FileOf(file));
        Assert.Equal(count, records.Count);
        Assert.All(records, r =>
        {
            var q = Assert.IsType<InstructionRecord>(r);
            Assert.EndsWith("?", q.Instruction);
            Assert.Contains(" " + q.Output + (char.IsDigit(q.Output[0]) ? " years" : ""), q.Input);
        });
    }
}
