using System.ComponentModel;
using System.Globalization;
using PeftEngine.Cli.Classify;
using PeftEngine.IO;
using PeftEngine.IO.Datasets;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Training;
using PeftEngine.Peft;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>What <c>peft eval</c> measured.</summary>
/// <param name="Task">causal-lm or classify.</param>
/// <param name="Loss">Mean held-out loss: next-token cross-entropy over the scored tokens, or the classifier's
/// cross-entropy over the texts.</param>
/// <param name="Scored">Tokens (causal-lm) or texts (classify) scored.</param>
/// <param name="Metric">The task metric's name (exact match, accuracy), or null when the data has none.</param>
/// <param name="Correct">Correct answers of the task metric.</param>
/// <param name="Total">Examples of the task metric.</param>
public sealed record EvalReport(string Task, double Loss, long Scored, string? Metric, int Correct, int Total)
{
    /// <summary>exp(loss).</summary>
    public double Perplexity => Math.Exp(Loss);

    /// <summary>Correct / Total.</summary>
    public double Accuracy => Total == 0 ? 0 : (double)Correct / Total;
}

/// <summary>
/// <c>peft eval</c>: held-out loss and perplexity of a causal language model (with an optional adapter) on a JSONL
/// (Alpaca, chat or text records) or plain-text file, plus exact match on instruction records; or, for a BERT
/// classifier, loss and accuracy on labelled JSONL.
/// </summary>
/// <remarks>HF: Trainer.evaluate() (eval_loss, perplexity = exp(eval_loss)) with an exact-match or accuracy
/// compute_metrics.</remarks>
public sealed class EvalCommand : Command<EvalCommand.Settings>
{
    /// <summary>Options of <c>peft eval</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <MODEL>"), Description("A shipped name (tiny-llama, minilm), a Hugging Face folder or a GGUF file (default: tiny-llama)")]
        public string Model { get; init; } = ModelResolver.DefaultModel;

        [CommandOption("--adapter <DIR>"), Description("An HF PEFT adapter folder to evaluate on top of the model (default: none, the base alone)")]
        public string? Adapter { get; init; }

        [CommandOption("--data <FILE>"), Description("Held-out data: JSONL (Alpaca instruction/input/output, chat messages, text; text/label for classify) or a .txt file cut into windows (default: the model folder's data/qa-valid.jsonl, or data/spam-valid.jsonl for classify)")]
        public string? Data { get; init; }

        [CommandOption("--task <TASK>"), Description("auto (classify for a BERT model, else causal-lm), causal-lm or classify (default: auto)")]
        public string Task { get; init; } = "auto";

        [CommandOption("-b|--batch <N>"), Description("Sequences per forward pass (default: 16)")]
        public int Batch { get; init; } = 16;

        [CommandOption("--seq-len <N>"), Description("Longest sequence in tokens; longer ones are cut, text files are cut into windows of this length (default: 160; classify: 64)")]
        public int? SeqLen { get; init; }

        [CommandOption("--eval-examples <N>"), Description("Instruction records answered for exact match, 0 for none (default: 100)")]
        public int EvalExamples { get; init; } = 100;

        [CommandOption("--device <DEVICE>"), Description("causal-lm only: " + DeviceOption.Help)]
        public string? Device { get; init; }

        [CommandOption("--threads <N>"), Description("CPU threads, 0 for all cores (default: 0)")]
        public int Threads { get; init; }
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var report = Evaluate(settings, Console.Error.WriteLine);
        var c = CultureInfo.InvariantCulture;
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]peft eval[/]").AddColumn("measure").AddColumn("value");
        table.AddRow("task", report.Task);
        table.AddRow("held-out loss", report.Loss.ToString("F6", c));
        if (report.Task == "causal-lm") table.AddRow("perplexity", report.Perplexity.ToString("F4", c));
        table.AddRow(report.Task == "causal-lm" ? "tokens scored" : "texts scored", report.Scored.ToString("N0", c));
        if (report.Metric is { } metric)
            table.AddRow(metric, string.Create(c, $"{report.Correct}/{report.Total} ({report.Accuracy:P1})"));
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>Runs the evaluation <paramref name="settings"/> describe; <paramref name="say"/> receives progress lines.</summary>
    public static EvalReport Evaluate(Settings settings, Action<string> say)
    {
        if (settings.Batch <= 0) throw new ArgumentException($"--batch must be positive, got {settings.Batch}");
        if (settings.EvalExamples < 0) throw new ArgumentException("--eval-examples must not be negative");
        if (settings.Threads > 0) PeftEngine.Cpu.CpuParallel.Threads = settings.Threads;
        string task = settings.Task.ToLowerInvariant();
        if (task == "auto")
        {
            string located = ModelResolver.Locate(settings.Model);
            string config = Path.Combine(located, "config.json");
            task = string.Equals(settings.Model, ClassifyOptions.DefaultModel, StringComparison.Ordinal)
                || (File.Exists(config) && HfConfig.Load(config).ModelType == "bert") ? "classify" : "causal-lm";
        }
        return task switch
        {
            "causal-lm" => EvaluateCausalLm(settings, say),
            "classify" => EvaluateClassifier(settings, say),
            _ => throw new ArgumentException($"--task must be auto, causal-lm or classify, got '{settings.Task}'"),
        };
    }

    private static EvalReport EvaluateCausalLm(Settings settings, Action<string> say)
    {
        int seqLen = settings.SeqLen ?? 160;
        if (seqLen < 2) throw new ArgumentException($"--seq-len must be at least 2, got {seqLen}");
        using var loaded = LoadedLanguageModel.Load(settings.Model, settings.Adapter);
        var device = DeviceOption.Open(settings.Device);
        if (!device.IsHost) loaded.Model.Module.To(device);   // batches and prompts follow the model's device
        string data = settings.Data ?? ModelResolver.ShippedFile(loaded.Path, Path.Combine("data", "qa-valid.jsonl"));
        var tokenizer = loaded.Tokenizer;
        List<TrainingExample> examples;
        var questions = new List<InstructionRecord>();
        if (data.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || data.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            var records = JsonlDataset.Read(data);
            var formatter = new SupervisedFormatter(text => tokenizer.Encode(text, addSpecialTokens: false))
            {
                EndOfResponseId = tokenizer.EosTokenId,
                MaxLength = seqLen,
            };
            examples = formatter.FormatAll(records);
            questions = records.OfType<InstructionRecord>().Take(settings.EvalExamples).ToList();
        }
        else
        {
            examples = TextChunker.ChunkFile(data, text => tokenizer.Encode(text, addSpecialTokens: false), seqLen);
        }
        say($"peft eval: {loaded.Path}{(settings.Adapter is null ? "" : $" + adapter {settings.Adapter}")} on {data} ({examples.Count} sequences)");
        int pad = tokenizer.PadTokenId ?? tokenizer.EosTokenId ?? 0;
        var loss = Evaluator.Evaluate(loaded.Model, Batching.Batches(examples, settings.Batch, pad));
        if (loss.Tokens == 0) throw new ArgumentException($"{data}: no token to score within --seq-len {seqLen}");
        if (questions.Count == 0) return new EvalReport("causal-lm", loss.Loss, loss.Tokens, null, 0, 0);
        say($"peft eval: answering {questions.Count} instruction(s) for exact match");
        var answers = ExactMatch.Evaluate(loaded.Model, tokenizer, questions);
        return new EvalReport("causal-lm", loss.Loss, loss.Tokens, "exact match", answers.Correct, answers.Samples.Count);
    }

    private static EvalReport EvaluateClassifier(Settings settings, Action<string> say)
    {
        int seqLen = settings.SeqLen ?? 64;
        if (seqLen < 4) throw new ArgumentException($"--seq-len must be at least 4, got {seqLen}");
        if (!DeviceOption.Parse(settings.Device).IsHost) throw new ArgumentException("--device: --task classify evaluates on the CPU only");
        string folder = ShippedEncoder.Resolve(settings.Model, say);
        string data = settings.Data ?? ModelResolver.ShippedFile(folder, Path.Combine("data", "spam-valid.jsonl"));
        var records = LabelledTextFile.Read(data);
        var labels = (settings.Adapter is { } a ? ClassifyJob.ReadLabels(a) : null) ?? LabelledTextFile.Labels(records);
        string vocab = Path.Combine(folder, "vocab.txt");
        if (!File.Exists(vocab)) throw new ArgumentException($"model folder '{folder}' has no vocab.txt (a BERT WordPiece vocabulary)");
        var batches = new ClassifierBatches(VocabFileLoader.LoadBert(vocab), labels, seqLen);
        // Without an adapter the head is new (seed 0), as before fine-tuning.
        using var model = BertForSequenceClassification.FromPretrained(folder, labels.Count, generator: new Generator(0));
        using var peft = settings.Adapter is { } adapter ? PeftModel.FromPretrained(model, adapter) : null;
        say($"peft eval: {folder}{(settings.Adapter is null ? " (new classifier head)" : $" + adapter {settings.Adapter}")} on {data} ({records.Count} texts, labels {string.Join(", ", labels)})");
        var score = batches.Score(model, records, settings.Batch);
        return new EvalReport("classify", score.Loss, score.Count, "accuracy", score.Correct, score.Count);
    }
}
