using System.Globalization;
using PeftEngine.Cpu;
using PeftEngine.IO.Datasets;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Training;
using PeftEngine.Peft;
using PeftEngine.Peft.Adapters;
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
        var before = ScoreBase(lm, device, tokenizer, evalLoader, questions);
        reporter.Scores("before", before);

        // One generator seeds the adapter's initialisation and its dropout; the trainer checkpoints it (and the
        // default generator, which the base model's own dropout layers draw from) so a resumed run draws the masks
        // the uninterrupted run would have drawn.
        var generator = new Generator(options.Seed);
        using var peft = config is AdapterFusionConfig
            ? WithFusion(lm, config, generator)
            : PeftModel.ForCausalLm(lm, config, generator: generator);
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
        var trainerOptions = TrainingLoop.Options(options.Steps, lr, options.Warmup, output, options.CheckpointEvery) with
        {
            Optimizer = options.Optim == "adamw8bit" ? TrainerOptimizer.AdamW8Bit : TrainerOptimizer.AdamW,
        };
        using var trainer = new Trainer(peft, trainerOptions, trainLoader, generators: [generator, Generator.Default]);
        var run = TrainingLoop.Run(trainer, options.Resume, reporter, cancel);
        if (run.Interrupted)
            return new FineTuneResult(before, null, trainer.Step, true, output, null, run.Checkpoint, run.Elapsed, run.TokensPerSecond);
        var after = Score(peft, tokenizer, evalLoader, questions, trainer.Step);
        reporter.Scores("after", after);

        string adapterDir = Path.Combine(output, "adapter");
        SaveAdapter(peft, adapterDir, pissaInit);
        TrainingArtifacts.WriteLog(Path.Combine(output, "training_log.jsonl"), run.Steps, before, after);
        TrainingArtifacts.WriteLossCurve(Path.Combine(output, "loss_curve.svg"),
            trainer.History.Select(h => (h.Step, h.Loss)).ToList(), $"{setup.Label} fine-tune of {Path.GetFileName(modelPath)}: training loss");
        reporter.Info($"adapter saved to {Path.GetFullPath(adapterDir)} (HF PEFT format); log and loss curve in {Path.GetFullPath(output)}");
        return new FineTuneResult(before, after, trainer.Step, false, output, adapterDir, null, run.Elapsed, run.TokensPerSecond);
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

    /// <summary>The held-out scores of the base model, on the run's device: the base is moved there for scoring and
    /// back to the CPU afterwards, where the adapter is built (its initialisation, e.g. PiSSA's SVD, runs there).</summary>
    private PhaseScore ScoreBase(ICausalLanguageModel lm, Device device, ITokenizer tokenizer, BatchLoader evalLoader, IReadOnlyList<InstructionRecord> questions)
    {
        if (device.IsHost) return Score(lm, tokenizer, evalLoader, questions, step: 0);
        reporter.Info($"scoring the base model on {device} before training");
        lm.Module.To(device);
        try { return Score(lm, tokenizer, evalLoader, questions, step: 0); }
        finally { lm.Module.To(Device.Cpu); }
    }

    /// <summary>The trained adapters of --fuse loaded frozen under their names, and the fusion over them added as the
    /// adapter "default" (so the saved folder holds the fusion at its root and each fused adapter in a subfolder).</summary>
    private PeftModel WithFusion(ICausalLanguageModel lm, PeftConfig fusion, Generator generator)
    {
        var peft = AdapterFolders.LoadAll(lm.Module, AdapterFolders.FusedFolders(options.Fuse!));
        try
        {
            peft.AddAdapter("default", fusion, generator);
            peft.SetAdapter("default");
        }
        catch
        {
            peft.Unload();
            throw;
        }
        reporter.Info($"fusing the adapters {string.Join(", ", ((AdapterFusionConfig)fusion).Adapters)} (frozen); only the fusion trains");
        return peft;
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
}
