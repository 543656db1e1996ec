using System.Globalization;
using System.Text.Json.Nodes;
using PeftEngine.Cli;
using PeftEngine.Models;
using PeftEngine.Models.Generation;

namespace PeftEngine.Tests;

/// <summary>`peft logits` and `peft generate` on the tiny fixtures.</summary>
public class CliTests
{
    [Fact]
    public void LogitsWritesTheFinalPositionsLogitsOfTheForwardPass()
    {
        string dir = LlamaFixture.Directory("llama");
        string outPath = Path.Combine(Path.GetTempPath(), $"logits-{Guid.NewGuid():N}.txt");
        try
        {
            Assert.Equal(0, CommandLine.Run(["logits", "--model", dir, "--ids", "5,7,11,2", "--out", outPath]));
            var written = File.ReadAllLines(outPath).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();
            using var model = LlamaModel.FromPretrained(dir);
            using var ids = Tensor.FromArray(new long[] { 5, 7, 11, 2 }, 1, 4);
            using var logits = model.Forward(ids);
            using var last = Ops.Select(logits, 1, 3);
            Assert.Equal(last.ToDoubleArray(), written);
        }
        finally { File.Delete(outPath); }
    }

    [Fact]
    public void BadArgumentsFailWithACodeInsteadOfAStackTrace()
    {
        Assert.Equal(2, CommandLine.Run(["logits", "--model", LlamaFixture.Directory("llama"), "--ids", "1,x"]));
        Assert.Equal(2, CommandLine.Run(["logits", "--ids", "1,2"]));
        Assert.Equal(2, CommandLine.Run(["generate", "--model", LlamaFixture.Directory("llama"), "--prompt", "ab", "--top-p", "2"]));
    }

    [Fact]
    public void GenerateEncodesThePromptAndPrintsTheGreedyContinuation()
    {
        string dir = LlamaFixture.CopyToTemp("llama");
        var originalOut = Console.Out;
        try
        {
            // a SentencePiece-style BPE over the 48 ids: specials, the space marker and single letters
            var vocab = new JsonObject { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2, ["▁"] = 3 };
            for (int i = 0; i < 26; i++) vocab[((char)('a' + i)).ToString()] = 4 + i;
            for (int i = 0; i < 18; i++) vocab[((char)('A' + i)).ToString()] = 30 + i;
            var tokenizer = new JsonObject
            {
                ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray(), ["unk_token"] = "<unk>" },
                ["normalizer"] = new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
                ["added_tokens"] = new JsonArray(
                    new JsonObject { ["id"] = 0, ["content"] = "<unk>", ["special"] = true },
                    new JsonObject { ["id"] = 1, ["content"] = "<s>", ["special"] = true },
                    new JsonObject { ["id"] = 2, ["content"] = "</s>", ["special"] = true }),
            };
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), tokenizer.ToJsonString());
            var tok = IO.Tokenizers.TokenizerJsonLoader.Load(Path.Combine(dir, "tokenizer.json"));
            long[] promptIds = tok.Encode("abc").Select(i => (long)i).ToArray();
            Assert.Equal([3L, 4, 5, 6], promptIds);

            using var model = LlamaModel.FromPretrained(dir);
            using var ids = Tensor.FromArray(promptIds, 1, promptIds.Length);
            var want = TextGeneration.Generate(model, ids, new GenerationConfig { MaxNewTokens = 5, StopTokenIds = [2] });
            string wantText = tok.Decode(want.Sequences[0][promptIds.Length..].Select(i => (int)i).ToArray(), skipSpecialTokens: true);

            var captured = new StringWriter();
            Console.SetOut(captured);
            Assert.Equal(0, CommandLine.Run(["generate", "--model", dir, "--prompt", "abc", "--max-new-tokens", "5"]));
            Console.SetOut(originalOut);
            Assert.Equal("abc" + wantText, captured.ToString().TrimEnd('\r', '\n'));
        }
        finally
        {
            Console.SetOut(originalOut);
            Directory.Delete(dir, recursive: true);
        }
    }
}
