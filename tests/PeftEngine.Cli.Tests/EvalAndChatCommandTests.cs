using PeftEngine.Cli;
using PeftEngine.Cli.Train;
using PeftEngine.IO.Datasets;
using PeftEngine.Models;
using PeftEngine.Models.Generation;
using PeftEngine.Models.Training;

namespace PeftEngine.Tests;

[Collection("console")]
public class EvalAndChatCommandTests(TinyModelFolder tiny) : IClassFixture<TinyModelFolder>
{
    private string TrainedAdapter()
    {
        string output = Path.Combine(tiny.Root, "run-eval");
        if (!Directory.Exists(Path.Combine(output, "adapter")))
            new FineTuneJob(new FineTuneOptions
            {
                Model = tiny.ModelDir, Steps = 3, Batch = 4, SeqLen = 160, Lr = 2e-2, Rank = 4, EvalExamples = 1, Samples = 0, Output = output,
            }, new RecordingReporter()).Run();
        return Path.Combine(output, "adapter");
    }

    [Fact]
    public void EvalLossOfAJsonlFileEqualsTheEvaluators()
    {
        string data = Path.Combine(tiny.ModelDir, "data", "qa-valid.jsonl");
        string adapter = TrainedAdapter();
        var report = EvalCommand.Evaluate(new EvalCommand.Settings { Model = tiny.ModelDir, Adapter = adapter, Data = data, Batch = 5, EvalExamples = 2 }, _ => { });

        // the same numbers computed directly: base + adapter, Alpaca formatting, token-weighted mean loss
        using var loaded = LoadedLanguageModel.Load(tiny.ModelDir, adapter);
        var tokenizer = loaded.Tokenizer;
        var formatter = new SupervisedFormatter(t => tokenizer.Encode(t, addSpecialTokens: false)) { EndOfResponseId = tokenizer.EosTokenId, MaxLength = 160 };
        var records = JsonlDataset.Read(data);
        var examples = formatter.FormatAll(records);
        var expected = Evaluator.Evaluate(loaded.Model, Batching.Batches(examples, 7, tokenizer.PadTokenId ?? 0));
        Assert.Equal("causal-lm", report.Task);
        Assert.Equal(expected.Tokens, report.Scored);
        Assert.Equal(expected.Loss, report.Loss, 1e-5);   // other batch sizes: equal up to f32 rounding
        Assert.Equal(Math.Exp(report.Loss), report.Perplexity, 1e-9);
        var answers = ExactMatch.Evaluate(loaded.Model, tokenizer, records.OfType<InstructionRecord>().Take(2));
        Assert.Equal("exact match", report.Metric);
        Assert.Equal((answers.Correct, answers.Samples.Count), (report.Correct, report.Total));

        // the adapter changes the loss: eval really runs it
        var baseOnly = EvalCommand.Evaluate(new EvalCommand.Settings { Model = tiny.ModelDir, Data = data, EvalExamples = 0 }, _ => { });
        Assert.NotEqual(report.Loss, baseOnly.Loss);
        Assert.Null(baseOnly.Metric);
        Assert.Equal(0, CommandLine.Run(["eval", "--model", tiny.ModelDir, "--adapter", adapter, "--eval-examples", "1"]));
    }

    [Fact]
    public void EvalOfATextFileScoresWindows()
    {
        string text = Path.Combine(tiny.Root, "held-out.txt");
        File.WriteAllText(text, string.Join(" ", Enumerable.Repeat("The whale swam past the ship while the sailors watched from the deck.", 12)));
        var report = EvalCommand.Evaluate(new EvalCommand.Settings { Model = tiny.ModelDir, Data = text, SeqLen = 32 }, _ => { });

        using var loaded = LoadedLanguageModel.Load(tiny.ModelDir);
        var windows = TextChunker.ChunkFile(text, t => loaded.Tokenizer.Encode(t, addSpecialTokens: false), 32);
        var expected = Evaluator.Evaluate(loaded.Model, Batching.Batches(windows, 3, 0));
        Assert.Equal(expected.Tokens, report.Scored);
        Assert.Equal(expected.Loss, report.Loss, 1e-5);   // other batch sizes: equal up to f32 rounding
        Assert.Null(report.Metric);
        Assert.Equal(2, CommandLine.Run(["eval", "--model", tiny.ModelDir, "--data", Path.Combine(tiny.Root, "missing.jsonl")]));
        Assert.Equal(2, CommandLine.Run(["eval", "--model", tiny.ModelDir, "--task", "translate"]));
    }

    [Fact]
    public void ChatContinuesEachPipedLineAsGenerateDoes()
    {
        var input = new StringReader("Where does Anne live?\nThe ship\n\nnot read after the empty line\n");
        var output = new StringWriter();
        var log = new StringWriter();
        var settings = new ChatCommand.Settings { Model = tiny.ModelDir, Template = "plain", MaxNewTokens = 6 };
        Assert.Equal(0, ChatCommand.Run(settings, input, output, log));

        using var loaded = LoadedLanguageModel.Load(tiny.ModelDir);
        string Continue(string prompt)
        {
            var ids = loaded.Tokenizer.Encode(prompt).Select(i => (long)i).ToArray();
            using var t = Tensor.FromArray(ids, 1, ids.Length);
            var result = TextGeneration.Generate(loaded.Model, t, new GenerationConfig { MaxNewTokens = 6, StopTokenIds = loaded.StopTokenIds.ToList() });
            return loaded.Tokenizer.Decode(result.Sequences[0].Skip(ids.Length).Select(i => (int)i).ToList(), skipSpecialTokens: true);
        }
        string transcript = output.ToString();
        Assert.Contains("> Where does Anne live?\nWhere does Anne live?" + Continue("Where does Anne live?") + "\n", transcript);
        Assert.Contains("> The ship\nThe ship" + Continue("The ship") + "\n", transcript);
        Assert.DoesNotContain("not read", transcript);
        Assert.Contains("2 turn(s)", log.ToString());
    }

    [Fact]
    public void ChatWithAChatFormatKeepsTheConversation()
    {
        var output = new StringWriter();
        var log = new StringWriter();
        var settings = new ChatCommand.Settings { Model = tiny.ModelDir, Template = "chatml", MaxNewTokens = 4, System = "Answer briefly." };
        Assert.Equal(0, ChatCommand.Run(settings, new StringReader("Hello\nAnd then?\n"), output, log));
        Assert.Contains("chat format ChatMl", log.ToString());
        Assert.Contains("2 turn(s)", log.ToString());
        Assert.Equal("chatml", ChatCommand.DetectTemplate(WriteTokenizerConfig("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")));
        Assert.Equal("llama3", ChatCommand.DetectTemplate(WriteTokenizerConfig("<|start_header_id|>{{ role }}<|end_header_id|>")));
        Assert.Null(ChatCommand.DetectTemplate(tiny.ModelDir));
    }

    private string WriteTokenizerConfig(string template)
    {
        string dir = Path.Combine(tiny.Root, "tc-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), System.Text.Json.JsonSerializer.Serialize(new { chat_template = template }));
        return dir;
    }
}
