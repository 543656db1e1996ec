using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using PeftEngine.Cli;
using PeftEngine.Cli.Classify;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using Spectre.Console.Cli;

namespace PeftEngine.Tests;

[Collection("console")]
public class CommandOptionsTests(TinyModelFolder tiny) : IClassFixture<TinyModelFolder>
{
    [Fact]
    public void EveryOptionOfEveryCommandSaysItsDefaultOrThatItIsRequired()
    {
        var settings = typeof(CommandLine).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(CommandSettings)) && !t.IsAbstract)
            .ToList();
        Assert.True(settings.Count >= 14, $"found only {settings.Count} settings classes");
        foreach (var type in settings)
            foreach (var p in type.GetProperties())
            {
                if (p.GetCustomAttribute<CommandOptionAttribute>() is null) continue;
                string text = p.GetCustomAttribute<DescriptionAttribute>()?.Description ?? "";
                Assert.True(text.Contains("(default", StringComparison.Ordinal) || text.Contains("(required)", StringComparison.Ordinal)
                    || p.PropertyType == typeof(bool) || p.PropertyType == typeof(bool?),
                    $"{type.DeclaringType?.Name}.{p.Name}: '{text}' names no default");
            }
        foreach (var command in new[] { "train", "eval", "chat", "export", "generate", "embed", "import-minilm", "logits", "pretrain", "bench", "demo", "merge", "info" })
            Assert.Equal(0, CommandLine.Run([command, "--help"]));
        Assert.Equal(0, CommandLine.Run(["tokenizer", "train", "--help"]));
    }

    [Fact]
    public void TrainWithMiniLmChoosesTheClassificationDefaults()
    {
        var o = TrainCommand.ToClassifyOptions(new TrainCommand.Settings { Model = "minilm", Steps = 7 });
        Assert.Equal((ClassifyOptions.DefaultModel, 7, 8, "query,value", 64), (o.Model, o.Steps, o.Rank, o.TargetModules, o.SeqLen));
        Assert.Equal(2, CommandLine.Run(["train", "--model", "minilm", "--load-in-4bit"]));
        Assert.Equal(2, CommandLine.Run(["train", "--task", "segment"]));
    }

    [Fact]
    public void TokenizerTrainAndLogitsKeepTheirBehaviour()
    {
        string corpus = Path.Combine(tiny.Root, "corpus.txt"), tokenizerPath = Path.Combine(tiny.Root, "learned.json");
        File.WriteAllText(corpus, File.ReadAllText(Path.Combine(TinyModelFolder.FindShipped(), "data", "pretrain-valid.txt"))[..20000]);
        Assert.Equal(0, CommandLine.Run(["tokenizer", "train", "--input", corpus, "--out", tokenizerPath, "--vocab-size", "300"]));
        var learned = TokenizerJsonLoader.Load(tokenizerPath);
        Assert.Equal(300, learned.VocabSize);
        Assert.Equal("the whale and the ship", learned.Decode(learned.Encode("the whale and the ship", addSpecialTokens: false)));
        Assert.True(learned.Encode(" the and", addSpecialTokens: false).Length < " the and".Length, "merges were learned");

        string logits = Path.Combine(tiny.Root, "logits.txt");
        Assert.Equal(0, CommandLine.Run(["logits", "--model", tiny.ModelDir, "--ids", "5,17,300", "--out", logits]));
        using var model = LlamaModel.FromPretrained(tiny.ModelDir);
        using var ids = Tensor.FromArray(new long[] { 5, 17, 300 }, 1, 3);
        using var all = model.Forward(ids);
        using var last = Ops.Select(all, 1, 2);
        var expected = last.ToDoubleArray();
        var written = File.ReadAllLines(logits).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(expected, written);
        Assert.Equal(2, CommandLine.Run(["logits", "--model", tiny.ModelDir, "--ids", "5,x"]));
        Assert.Equal(2, CommandLine.Run(["tokenizer", "train", "--input", Path.Combine(tiny.Root, "none.txt"), "--out", tokenizerPath]));
    }
}
