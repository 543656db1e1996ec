using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using PeftEngine.Cli.Train;
using PeftEngine.Cpu;
using PeftEngine.IO;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Training;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Cli.Classify;

/// <summary>What a classification fine-tune produced.</summary>
public sealed record ClassifyResult(ClassifierScore Before, ClassifierScore After, IReadOnlyList<string> Labels, string AdapterDirectory,
    TimeSpan TrainingTime, double TokensPerSecond);

/// <summary>Receives what a classification run has to say.</summary>
public interface IClassifyReporter
{
    /// <summary>A line of information.</summary>
    void Info(string message);

    /// <summary>The resolved settings, as (name, value) rows.</summary>
    void Settings(IReadOnlyList<(string Name, string Value)> rows);

    /// <summary>Held-out loss and accuracy of a phase ("before" or "after").</summary>
    void Scores(string phase, ClassifierScore score);

    /// <summary>Training is about to run <paramref name="steps"/> steps.</summary>
    void TrainingStarted(int steps);

    /// <summary>After an optimizer step.</summary>
    void Progress(TrainingProgress progress);

    /// <summary>Training finished.</summary>
    void TrainingDone();
}

/// <summary>
/// The job behind <c>peft train --model minilm --task classify</c>: a BERT encoder with a new classification head,
/// scored on held-out texts (loss, accuracy), wrapped with LoRA on the attention projections while the head is
/// trained in full as a module to save, trained with AdamW, scored again, and saved in the HF PEFT format.
/// </summary>
/// <remarks>HF: AutoModelForSequenceClassification.from_pretrained(..., num_labels) + get_peft_model(model,
/// LoraConfig(task_type="SEQ_CLS", target_modules=["query", "value"])), whose PeftModelForSequenceClassification adds
/// "classifier" to modules_to_save.</remarks>
public sealed class ClassifyJob(ClassifyOptions options, IClassifyReporter reporter)
{
    /// <summary>Scores of the held-out texts are taken in batches of this size.</summary>
    private const int EvalBatch = 32;

    /// <summary>Runs the job.</summary>
    public ClassifyResult Run(CancellationToken cancel = default)
    {
        options.Validate();
        if (options.Threads > 0) CpuParallel.Threads = options.Threads;
        string folder = ShippedEncoder.Resolve(options.Model, reporter.Info);
        string dataPath = options.Data ?? ModelResolver.ShippedFile(folder, Path.Combine("data", "spam-train.jsonl"));
        string evalPath = options.EvalData ?? ModelResolver.ShippedFile(folder, Path.Combine("data", "spam-valid.jsonl"));
        var train = LabelledTextFile.Read(dataPath);
        var heldOut = LabelledTextFile.Read(evalPath);
        if (options.EvalExamples > 0) heldOut = heldOut.Take(options.EvalExamples).ToList();
        var labels = LabelledTextFile.Labels(train);
        if (labels.Count < 2) throw new ArgumentException($"{dataPath}: a classifier needs at least two labels, found {labels.Count}");
        if (heldOut.FirstOrDefault(r => !labels.Contains(r.Label)) is { } stray)
            throw new ArgumentException($"{evalPath}: label '{stray.Label}' does not occur in the training data ({string.Join(", ", labels)})");
        if (train.Count < options.Batch) throw new ArgumentException($"{dataPath}: {train.Count} records, fewer than one batch of {options.Batch}");
        string vocab = Path.Combine(folder, "vocab.txt");
        if (!File.Exists(vocab)) throw new ArgumentException($"model folder '{folder}' has no vocab.txt (a BERT WordPiece vocabulary)");
        var batches = new ClassifierBatches(VocabFileLoader.LoadBert(vocab), labels, options.SeqLen);

        var generator = new Generator(options.Seed);
        using var model = BertForSequenceClassification.FromPretrained(folder, labels.Count, generator: generator);
        var config = new LoraConfig
        {
            R = options.Rank,
            LoraAlpha = options.Alpha,
            LoraDropout = options.Dropout,
            TargetModules = TargetModules.Of(options.TargetModules.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)),
            ModulesToSave = ["classifier"],
            TaskType = "SEQ_CLS",
            BaseModelNameOrPath = folder,
        };
        reporter.Settings(
        [
            ("model", $"{folder} (BERT, {model.NumParameters().ToString("N0", CultureInfo.InvariantCulture)} parameters with the new head)"),
            ("task", $"sequence classification, labels {string.Join(", ", labels.Select((l, i) => $"{i}={l}"))}"),
            ("method", $"LoRA r={config.R} alpha={config.LoraAlpha} dropout={config.LoraDropout} targets={options.TargetModules}, classifier trained in full"),
            ("train data", $"{dataPath} ({train.Count} texts)"),
            ("held-out data", $"{evalPath} ({heldOut.Count} texts)"),
            ("steps", $"{options.Steps} x batch {options.Batch}, seq-len {options.SeqLen}, lr {options.Lr} (cosine, warm-up {options.Warmup})"),
            ("threads", CpuParallel.Threads.ToString(CultureInfo.InvariantCulture)),
            ("seed", options.Seed.ToString(CultureInfo.InvariantCulture)),
            ("output", Path.GetFullPath(options.Output)),
        ]);
        var before = batches.Score(model, heldOut, EvalBatch);
        reporter.Scores("before", before);

        using var peft = PeftModel.Create(model, config, generator: generator);
        reporter.Info(peft.TrainableParametersLine());
        var trainable = peft.Parameters().Where(p => p.RequiresGrad).ToList();
        using var optimizer = new AdamW(trainable, options.Lr, weightDecay: 0.01);
        var scheduler = new LrScheduler(optimizer, LrSchedule.CosineWithWarmup(Math.Min(options.Warmup, options.Steps - 1), options.Steps));
        var order = new DataOrder(train.Count, options.Seed);
        var logged = new List<TrainingProgress>();
        long tokens = 0;
        var clock = Stopwatch.StartNew();
        reporter.TrainingStarted(options.Steps);
        model.Train();
        try
        {
            for (int step = 1; step <= options.Steps && !cancel.IsCancellationRequested; step++)
            {
                double lr = optimizer.ParamGroups[0].Lr, loss, norm;
                using (TensorScope.Begin())
                {
                    var records = order.Next(options.Batch).Select(i => train[i]).ToList();
                    var (ids, mask, classes) = batches.Encode(records);
                    tokens += mask.ToFloatArray().Sum(v => (long)v);
                    var value = model.Loss(ids, classes, mask);
                    value.Backward();
                    loss = value.Item();
                    norm = GradClip.ClipGradNorm(trainable, 1.0);
                    optimizer.Step();
                }
                scheduler.Step();
                optimizer.ZeroGrad();
                double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                var progress = new TrainingProgress(step, options.Steps, loss, lr, norm, tokens / seconds, clock.Elapsed,
                    TimeSpan.FromSeconds(seconds / step * (options.Steps - step)));
                logged.Add(progress);
                reporter.Progress(progress);
            }
        }
        finally { reporter.TrainingDone(); }
        clock.Stop();
        if (cancel.IsCancellationRequested) throw new OperationCanceledException($"training interrupted after {logged.Count} steps; nothing was saved");

        var after = batches.Score(model, heldOut, EvalBatch);
        reporter.Scores("after", after);
        string adapterDir = Path.Combine(options.Output, "adapter");
        peft.SavePretrained(adapterDir);
        WriteLabels(Path.Combine(adapterDir, "labels.json"), labels);
        WriteLog(Path.Combine(options.Output, "training_log.jsonl"), logged, before, after);
        TrainingArtifacts.WriteLossCurve(Path.Combine(options.Output, "loss_curve.svg"), logged.Select(p => (p.Step, p.Loss)).ToList(),
            $"LoRA sequence classification on {Path.GetFileName(folder)}: training loss");
        reporter.Info($"adapter saved to {Path.GetFullPath(adapterDir)} (HF PEFT format, classifier head included; class names in labels.json)");
        return new ClassifyResult(before, after, labels, adapterDir, clock.Elapsed, logged.Count > 0 ? logged[^1].TokensPerSecond : 0);
    }

    /// <summary>The class names of a saved classifier adapter (id -> label), the way HF keeps them in config.json.</summary>
    public static void WriteLabels(string path, IReadOnlyList<string> labels) =>
        TrainingArtifacts.WriteText(path, JsonSerializer.Serialize(new
        {
            id2label = labels.Select((l, i) => (i, l)).ToDictionary(p => p.i.ToString(CultureInfo.InvariantCulture), p => p.l),
        }, new JsonSerializerOptions { WriteIndented = true }) + "\n");

    /// <summary>Reads labels.json of a classifier adapter, or null when the folder has none.</summary>
    public static List<string>? ReadLabels(string adapterDir)
    {
        string path = Path.Combine(adapterDir, "labels.json");
        if (!File.Exists(path)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("id2label").EnumerateObject()
            .OrderBy(p => int.Parse(p.Name, CultureInfo.InvariantCulture)).Select(p => p.Value.GetString() ?? "").ToList();
    }

    private static void WriteLog(string path, IEnumerable<TrainingProgress> steps, ClassifierScore before, ClassifierScore after)
    {
        var text = new StringBuilder();
        foreach (var p in steps)
            text.AppendLine(JsonSerializer.Serialize(new
            {
                step = p.Step, loss = p.Loss, lr = p.LearningRate, grad_norm = p.GradNorm,
                tokens_per_second = p.TokensPerSecond, elapsed_seconds = p.Elapsed.TotalSeconds,
            }));
        foreach (var (phase, s) in new[] { ("before", before), ("after", after) })
            text.AppendLine(JsonSerializer.Serialize(new { eval = phase, loss = s.Loss, accuracy = s.Accuracy, correct = s.Correct, total = s.Count }));
        TrainingArtifacts.WriteText(path, text.ToString());
    }

    /// <summary>Seeded reshuffling of example indices every epoch; batches never straddle two epochs' orders.</summary>
    private sealed class DataOrder(int count, ulong seed)
    {
        private readonly Random _random = new(unchecked((int)seed ^ (int)(seed >> 32)));
        private int[] _order = [];
        private int _next;

        public IEnumerable<int> Next(int batch)
        {
            if (_next + batch > _order.Length)
            {
                _order = Enumerable.Range(0, count).ToArray();
                _random.Shuffle(_order);
                _next = 0;
            }
            var slice = _order[_next..(_next + batch)];
            _next += batch;
            return slice;
        }
    }
}
