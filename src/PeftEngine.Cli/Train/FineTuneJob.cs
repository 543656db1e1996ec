using System.Diagnostics;
using System.Globalization;
using PeftEngine.Cpu;
using PeftEngine.IO.Datasets;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Training;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;
using PeftEngine.Quant;

namespace PeftEngine.Cli.Train;

/// <summary>
/// A complete fine-tuning run, the job behind <c>peft train</c>: load the base model and data, score the base on
/// held-out data (loss, perplexity, exact-match answers), wrap it with a PEFT adapter, train, score again, and save
/// the adapter in the Hugging Face PEFT format with a training log and a loss curve. Ctrl+C (the cancellation token)
/// ends training after the current step and leaves a checkpoint that <see cref="FineTuneOptions.Resume"/> continues.
/// </summary>
public sealed class FineTuneJob(FineTuneOptions options, IFineTuneReporter reporter)
{
    /// <summary>Runs the job.</summary>
    public FineTuneResult Run(CancellationToken cancel = default)
    {
        options.Validate();
        if (options.Threads > 0) CpuParallel.Threads = options.Threads;
        var device = DeviceOption.Open(options.Device);   // fails early, with one line, when the device cannot be opened
        if (!device.IsHost && options.LoadIn4Bit)
            throw new ArgumentException($"--device {options.Device}: --load-in-4bit needs the CPU (the 4-bit kernels are not on the GPU yet)");
        string modelPath = ModelResolver.Locate(options.Model);
        var (lm, tokenizer) = ModelResolver.LoadCausalLm(options.Model);
        string dataPath = options.Data ?? ModelResolver.ShippedFile(modelPath, Path.Combine("data", "qa-train.jsonl"));
        string evalPath = options.EvalData ?? ModelResolver.ShippedFile(modelPath, Path.Combine("data", "qa-valid.jsonl"));

        int pad = tokenizer.PadTokenId ?? tokenizer.EosTokenId ?? 0;
        var formatter = new SupervisedFormatter(text => tokenizer.Encode(text, addSpecialTokens: false))
        {
            EndOfResponseId = tokenizer.EosTokenId,
            MaxLength = options.SeqLen,
        };
        var trainRecords = JsonlDataset.Read(dataPath);
        var evalRecords = JsonlDataset.Read(evalPath);
        var trainExamples = Scorable(formatter.FormatAll(trainRecords), dataPath);
        var evalExamples = Scorable(formatter.FormatAll(evalRecords), evalPath);
        var trainLoader = new BatchLoader(trainExamples, options.Batch, pad, options.Seed);
        var evalLoader = new BatchLoader(evalExamples, options.Batch, pad, seed: null);
        var questions = evalRecords.OfType<InstructionRecord>().ToList();

        var setup = TrainMethods.Create(options, modelPath);
        var config = setup.Config;
        var lora = config as LoraConfig;
        if (config is Peft.Subset.BitFitConfig { TargetModules: null } && !lm.Module.NamedModules().Any(nm => Peft.Subset.BitFitLayer.BaseBias(nm.Module) is not null))
            throw new ArgumentException($"--method bitfit: {Path.GetFileName(modelPath)} has no bias terms (a LLaMA with attention_bias and mlp_bias false, as the shipped tiny-llama), " +
                "so BitFit has nothing to train; use a model with biases (GPT-2, BERT, Qwen2, a LLaMA with attention_bias) or another method");
        double lr = TrainMethods.LearningRate(options);
        string output = options.OutputDirectory;
        reporter.Settings(
        [
            ("model", modelPath),
            ("parameters", lm.Module.NumParameters().ToString("N0", CultureInfo.InvariantCulture)),
            ("method", setup.Description),
            ("train data", $"{dataPath} ({trainRecords.Count} records)"),
            ("held-out data", $"{evalPath} ({evalRecords.Count} records)"),
            ("steps", $"{options.Steps} x batch {options.Batch}, seq-len {options.SeqLen}, lr {lr.ToString(CultureInfo.InvariantCulture)} (cosine, warm-up {options.Warmup})"),
            ("device", device.IsHost ? "cpu" : device.ToString()),
            ("threads", CpuParallel.Threads.ToString(CultureInfo.InvariantCulture)),
            ("seed", options.Seed.ToString(CultureInfo.InvariantCulture)),
            ("output", Path.GetFullPath(output)),
        ]);

        // LoftQ fits the adapter to the quantization error of the full-precision weight, so it wraps first and
        // quantizes after (its base is already an NF4 weight, which quantizes to the same codes).
        bool loftq = lora?.InitLoraWeights == LoraInit.Loftq;
        if (options.LoadIn4Bit && !loftq) Quantize(lm.Module);
        var before = Score(lm, tokenizer, evalLoader, questions, step: 0);
        reporter.Scores("before", before);

        using var peft = PeftModel.ForCausalLm(lm, config, generator: new Generator(options.Seed));
        if (options.LoadIn4Bit && loftq) Quantize(peft.Model);
        // base + adapter on the device once the adapter exists (its initialisation, e.g. PiSSA's SVD, runs on the
        // CPU); the optimizer made below keeps its state beside the parameters, and the trainer, evaluator and
        // generation move the inputs they build to the model's device.
        if (!device.IsHost) peft.To(device);
        reporter.Info(peft.TrainableParametersLine());
        // PiSSA trains on the residual base W - B0·A0, so the trained adapter alone does not apply to the original
        // model. As HF's save_pretrained(path_initial_model_for_weight_conversion=...) the adapter as it was before
        // training is kept, and the final save converts the trained one to a rank-2r LoRA of the original base.
        string? pissaInit = lora?.InitLoraWeights == LoraInit.Pissa ? Path.Combine(output, "pissa_init") : null;
        if (pissaInit is not null) peft.SavePretrained(pissaInit);
        string checkpoints = Path.Combine(output, "checkpoints");
        var trainerOptions = new TrainerOptions
        {
            MaxSteps = options.Steps,
            LearningRate = lr,
            Optimizer = options.Optim == "adamw8bit" ? TrainerOptimizer.AdamW8Bit : TrainerOptimizer.AdamW,
            WarmupSteps = Math.Min(options.Warmup, options.Steps - 1),
            Schedule = LrScheduleKind.Cosine,
            MaxGradNorm = 1.0,
            CheckpointDirectory = checkpoints,
            CheckpointEvery = options.CheckpointEvery,
        };
        var logged = new List<TrainingProgress>();
        using var trainer = new Trainer(peft, trainerOptions, trainLoader);
        trainer.OnProgress = p =>
        {
            logged.Add(p);
            reporter.Progress(p);
        };
        if (options.Resume is { } resume)
        {
            trainer.Resume(resume);
            reporter.Info($"resumed from {resume} at step {trainer.Step}");
        }
        var clock = Stopwatch.StartNew();
        reporter.TrainingStarted(trainer.Step, options.Steps);
        try { trainer.Train(cancel: cancel); }
        finally { reporter.TrainingDone(); }
        clock.Stop();
        double tokensPerSecond = logged.Count > 0 ? logged[^1].TokensPerSecond : 0;

        if (trainer.Step < options.Steps)
        {
            reporter.Info($"interrupted at step {trainer.Step}; resume with --resume {LatestCheckpoint(checkpoints)}");
            return new FineTuneResult(before, null, trainer.Step, true, output, null, LatestCheckpoint(checkpoints), clock.Elapsed, tokensPerSecond);
        }
        var after = Score(peft, tokenizer, evalLoader, questions, trainer.Step);
        reporter.Scores("after", after);

        string adapterDir = Path.Combine(output, "adapter");
        SaveAdapter(peft, adapterDir, pissaInit);
        TrainingArtifacts.WriteLog(Path.Combine(output, "training_log.jsonl"), logged, before, after);
        TrainingArtifacts.WriteLossCurve(Path.Combine(output, "loss_curve.svg"),
            trainer.History.Select(h => (h.Step, h.Loss)).ToList(), $"{setup.Label} fine-tune of {Path.GetFileName(modelPath)}: training loss");
        reporter.Info($"adapter saved to {Path.GetFullPath(adapterDir)} (HF PEFT format); log and loss curve in {Path.GetFullPath(output)}");
        return new FineTuneResult(before, after, trainer.Step, false, output, adapterDir, null, clock.Elapsed, tokensPerSecond);
    }

    private void Quantize(PeftEngine.Nn.Module model)
    {
        var quant = new BitsAndBytesConfig { Bnb4BitQuantType = options.QuantType, Bnb4BitUseDoubleQuant = options.DoubleQuant };
        var report = ModelQuantizer.Quantize(model, quant);
        reporter.Info(string.Create(CultureInfo.InvariantCulture,
            $"4-bit base: {report.Layers} Linear layers in {options.QuantType.ToUpperInvariant()}{(options.DoubleQuant ? " with double quantization" : "")}, " +
            $"{report.BytesBefore / 1048576.0:F2} MiB -> {report.BytesAfter / 1048576.0:F2} MiB ({report.BytesPerParameter:F3} bytes per weight)"));
    }

    /// <summary>Saves the trained adapter in the HF PEFT format; a PiSSA adapter as a plain LoRA of the original base
    /// (rank 2r, <see cref="PissaConversion"/>) when it can be expressed as one, else as it is (its base is then the
    /// residual model, which a reader must rebuild with the same PiSSA initialisation).</summary>
    private void SaveAdapter(PeftModel peft, string adapterDir, string? pissaInit)
    {
        if (pissaInit is null)
        {
            peft.SavePretrained(adapterDir);
            return;
        }
        var lora = (LoraConfig)peft.PeftConfigs["default"];
        if (lora.UseDora || lora.LoraBias)
        {
            peft.SavePretrained(adapterDir);
            reporter.Info("PiSSA with DoRA cannot be converted to a LoRA of the original base; the adapter is saved as trained and applies to the PiSSA residual base");
            return;
        }
        peft.SavePretrainedConvertingPissa(adapterDir, pissaInit);
        reporter.Info(string.Create(CultureInfo.InvariantCulture,
            $"PiSSA adapter converted to a rank-{2 * lora.R} LoRA of the original base (initial adapter kept in {Path.GetFullPath(pissaInit)})"));
    }

    private PhaseScore Score(ICausalLanguageModel model, ITokenizer tokenizer, BatchLoader evalLoader, IReadOnlyList<InstructionRecord> questions, int step)
    {
        var loss = Evaluator.Evaluate(model, evalLoader.OnePass(), step);
        var answers = ExactMatch.Evaluate(model, tokenizer, questions.Take(options.EvalExamples));
        return new PhaseScore(loss, answers);
    }

    /// <summary>The examples that keep at least one label after cutting to --seq-len (others teach nothing).</summary>
    private List<TrainingExample> Scorable(List<TrainingExample> examples, string file)
    {
        var kept = examples.Where(e => e.Labels.Skip(1).Any(l => l != TrainingExample.IgnoreIndex)).ToList();
        if (kept.Count < examples.Count)
            reporter.Info($"{file}: {examples.Count - kept.Count} of {examples.Count} examples have no response left within --seq-len {options.SeqLen} and are skipped");
        if (kept.Count < options.Batch)
            throw new ArgumentException($"{file}: only {kept.Count} usable examples, fewer than one batch of {options.Batch}; raise --seq-len or lower --batch");
        return kept;
    }

    private static string? LatestCheckpoint(string directory) =>
        Directory.Exists(directory) ? Directory.GetDirectories(directory).OrderBy(d => d, StringComparer.Ordinal).LastOrDefault() : null;
}
