using System.Globalization;
using System.Text.Json;
using PeftEngine.Cli.Train;
using PeftEngine.Cpu;
using PeftEngine.IO;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Training;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Cli.Classify;

/// <summary>What a classification fine-tune produced.</summary>
/// <param name="Before">Held-out scores of the new head on the frozen encoder.</param>
/// <param name="After">Held-out scores after training; null when the run was interrupted.</param>
/// <param name="Labels">The class names (index = class id).</param>
/// <param name="Steps">Optimizer steps completed (counting those before a resume).</param>
/// <param name="Interrupted">True when cancellation stopped the run before the last step.</param>
/// <param name="AdapterDirectory">The saved adapter; null when interrupted.</param>
/// <param name="CheckpointDirectory">The checkpoint to resume from; null unless interrupted.</param>
/// <param name="TrainingTime">Wall time of the training steps.</param>
/// <param name="TokensPerSecond">Training throughput at the last step.</param>
public sealed record ClassifyResult(ClassifierScore Before, ClassifierScore? After, IReadOnlyList<string> Labels, int Steps, bool Interrupted,
    string? AdapterDirectory, string? CheckpointDirectory, TimeSpan TrainingTime, double TokensPerSecond);

/// <summary>Receives what a classification run has to say (and, as every training job, its steps).</summary>
public interface IClassifyReporter : ITrainingReporter
{
    /// <summary>The resolved settings, as (name, value) rows.</summary>
    void Settings(IReadOnlyList<(string Name, string Value)> rows);

    /// <summary>Held-out loss and accuracy of a phase ("before" or "after").</summary>
    void Scores(string phase, ClassifierScore score);
}

/// <summary>
/// The job behind <c>peft train --model minilm --task classify</c>: a BERT encoder with a new classification head,
/// scored on held-out texts (loss, accuracy), wrapped with LoRA on the attention projections while the head is
/// trained in full as a module to save, trained by the <see cref="Trainer"/> (AdamW, cosine schedule, clipping),
/// scored again, and saved in the HF PEFT format. Ctrl+C (the cancellation token) ends training after the current
/// step with a checkpoint in the trainer's format, which <see cref="ClassifyOptions.Resume"/> continues exactly.
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
        var trainerOptions = TrainingLoop.Options(options.Steps, options.Lr, options.Warmup, options.Output, options.CheckpointEvery, weightDecay: 0.01);
        var loader = new BatchLoader(batches.Examples(train), options.Batch, padId: 0, options.Seed);   // [PAD] = 0; the mask marks it
        // the generator seeded the head and the adapter and feeds every dropout layer: checkpoints keep its position
        using var trainer = new Trainer(new ClassifierTrainingView(peft, model), trainerOptions, loader, generators: [generator]);
        var run = TrainingLoop.Run(trainer, options.Resume, reporter, cancel);
        if (run.Interrupted)
            return new ClassifyResult(before, null, labels, trainer.Step, true, null, run.Checkpoint, run.Elapsed, run.TokensPerSecond);

        var after = batches.Score(model, heldOut, EvalBatch);
        reporter.Scores("after", after);
        string adapterDir = Path.Combine(options.Output, "adapter");
        peft.SavePretrained(adapterDir);
        WriteLabels(Path.Combine(adapterDir, "labels.json"), labels);
        WriteLog(Path.Combine(options.Output, "training_log.jsonl"), run.Steps, before, after);
        TrainingArtifacts.WriteLossCurve(Path.Combine(options.Output, "loss_curve.svg"), trainer.History.Select(h => (h.Step, h.Loss)).ToList(),
            $"LoRA sequence classification on {Path.GetFileName(folder)}: training loss");
        reporter.Info($"adapter saved to {Path.GetFullPath(adapterDir)} (HF PEFT format, classifier head included; class names in labels.json)");
        return new ClassifyResult(before, after, labels, trainer.Step, false, adapterDir, null, run.Elapsed, run.TokensPerSecond);
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
        var text = TrainingArtifacts.StepLines(steps);
        foreach (var (phase, s) in new[] { ("before", before), ("after", after) })
            text.AppendLine(JsonSerializer.Serialize(new { eval = phase, loss = s.Loss, accuracy = s.Accuracy, correct = s.Correct, total = s.Count }));
        TrainingArtifacts.WriteText(path, text.ToString());
    }
}
