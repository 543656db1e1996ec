using System.Text;
using System.Text.Json;
using PeftEngine.IO;
using PeftEngine.IO.Datasets;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Nn.Optim;

namespace PeftEngine.Models.Training;

/// <summary>How a <see cref="Pretraining"/> run ended.</summary>
/// <param name="Completed">Whether the last step was reached (and the model folder written).</param>
/// <param name="Step">Steps completed.</param>
/// <param name="Parameters">Parameters of the model.</param>
/// <param name="TrainTokens">Tokens in the training windows.</param>
/// <param name="History">Loss of every step.</param>
/// <param name="Evaluations">Held-out evaluations.</param>
/// <param name="Checkpoint">The last checkpoint written by this invocation, if any.</param>
public sealed record PretrainResult(bool Completed, int Step, long Parameters, long TrainTokens,
    IReadOnlyList<LossRecord> History, IReadOnlyList<EvalResult> Evaluations, string? Checkpoint);

/// <summary>
/// Pretrains a causal language model from scratch on plain text: tokenizes the text into fixed-length windows,
/// builds the model from a config.json, trains it with <see cref="Trainer"/> (checkpointing, resuming) and saves
/// the result as a Hugging Face folder with a JSONL training log.
/// </summary>
/// <remarks>HF: <c>examples/pytorch/language-modeling/run_clm.py</c> with <c>--config_name</c> (training from
/// scratch), <c>group_texts</c> windows and <c>--resume_from_checkpoint</c>.</remarks>
public static class Pretraining
{
    /// <summary>Runs (or resumes) pretraining.</summary>
    /// <param name="options">Inputs and settings.</param>
    /// <param name="createModel">Builds the untrained model from the parsed config with the run's generator
    /// (used for the initial weights and dropout).</param>
    /// <param name="log">Receives one line per event (setup, progress, evaluation, checkpoint).</param>
    /// <param name="cancel">Ends the run after the current step; a checkpoint is written.</param>
    public static PretrainResult Run(PretrainOptions options, Func<HfModelConfig, Generator, ICausalLanguageModel> createModel,
        Action<string>? log = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(createModel);
        log ??= _ => { };
        foreach (var (file, what) in new[] { (options.TrainText, "training text"), (options.TokenizerPath, "tokenizer"), (options.ConfigPath, "config") })
            if (!File.Exists(file)) throw new FileNotFoundException($"Pretraining: the {what} file '{file}' does not exist.", file);
        if (options.ValidText is { } v && !File.Exists(v)) throw new FileNotFoundException($"Pretraining: the validation text '{v}' does not exist.", v);

        var tokenizer = TokenizerJsonLoader.Load(options.TokenizerPath);
        string configJson = File.ReadAllText(options.ConfigPath);
        var config = HfConfig.Parse(configJson, options.ConfigPath);
        if (config.VocabSize < tokenizer.VocabSize)
            throw new ArgumentException($"Pretraining: {options.ConfigPath} has vocab_size {config.VocabSize} but the tokenizer has {tokenizer.VocabSize} tokens.");
        if (options.SequenceLength < 2 || options.SequenceLength > config.MaxPositionEmbeddings)
            throw new ArgumentOutOfRangeException(nameof(options), $"Pretraining: sequence length {options.SequenceLength} must be in [2, max_position_embeddings = {config.MaxPositionEmbeddings}].");
        int padId = tokenizer.PadTokenId ?? tokenizer.EosTokenId ?? 0;

        int[] Tokenize(string text) => tokenizer.Encode(text, addSpecialTokens: false);
        var train = TextChunker.ChunkFile(options.TrainText, Tokenize, options.SequenceLength, dropLast: true);
        var valid = options.ValidText is null ? null : TextChunker.ChunkFile(options.ValidText, Tokenize, options.SequenceLength, dropLast: true);
        long trainTokens = (long)train.Count * options.SequenceLength;
        log($"data: {train.Count} training windows of {options.SequenceLength} tokens ({trainTokens:N0} tokens)"
            + (valid is null ? "" : $", {valid.Count} held-out windows"));

        string checkpoints = options.CheckpointDirectory ?? Path.Combine(options.OutputDirectory, "checkpoints");
        var generator = new Generator(options.Seed);
        var model = createModel(config, generator);
        try
        {
            long parameters = model.Module.NumParameters();
            var trainerOptions = options.Trainer with { CheckpointDirectory = checkpoints };
            var loader = new BatchLoader(train, options.BatchSize, padId, options.Seed);
            var evalLoader = valid is { Count: > 0 } ? new BatchLoader(valid, Math.Min(options.BatchSize, valid.Count), padId, seed: null) : null;
            // Weight decay on matrices (embeddings, projections) only, not on norm gains or biases.
            var trainable = model.Module.Parameters().Where(p => p.RequiresGrad).ToList();
            ParamGroup[] groups =
            [
                new(trainable.Where(p => p.Shape.Rank >= 2)),
                new(trainable.Where(p => p.Shape.Rank < 2), weightDecay: 0.0),
            ];
            using var trainer = new Trainer(model, trainerOptions, loader, evalLoader, groups.Where(g => g.Parameters.Count > 0),
                generators: [generator, Generator.Default]);
            log($"model: {config.ModelType}, {parameters:N0} parameters; {trainerOptions.MaxSteps} steps of {options.BatchSize}x{trainerOptions.GradientAccumulationSteps} windows, "
                + $"peak lr {trainerOptions.LearningRate}, {loader.BatchesPerEpoch} batches per epoch");
            if (options.ResumeFrom is { } resume)
            {
                trainer.Resume(resume);
                log($"resumed from {TrainingCheckpoint.FindLatest(resume)} at step {trainer.Step}");
            }
            string? lastCheckpoint = null;
            trainer.OnProgress = p => log(p.ToString());
            trainer.OnEvaluate = e => log(e.ToString());
            trainer.OnCheckpoint = c =>
            {
                lastCheckpoint = c;
                log($"checkpoint: {c}");
            };
            trainer.Train(options.StopAfter, cancel);
            bool completed = trainer.Step >= trainerOptions.MaxSteps;
            if (completed)
            {
                HfModelFolder.Save(options.OutputDirectory, model, configJson, options.TokenizerPath, tokenizer, options.SaveDType);
                WriteLog(Path.Combine(options.OutputDirectory, "training_log.jsonl"), trainer);
                log($"saved {options.OutputDirectory}");
            }
            else if (lastCheckpoint is null || TrainingCheckpoint.ReadState(lastCheckpoint).Step != trainer.Step)
            {
                lastCheckpoint = trainer.SaveCheckpoint(checkpoints);
            }
            return new PretrainResult(completed, trainer.Step, parameters, trainTokens, [.. trainer.History], [.. trainer.Evaluations], lastCheckpoint);
        }
        finally
        {
            model.Module.Dispose();
        }
    }

    /// <summary>Writes one JSON object per step ({"step", "loss", "lr"}) and per evaluation ({"step", "eval_loss",
    /// "perplexity"}), in step order.</summary>
    private static void WriteLog(string path, Trainer trainer)
    {
        var sb = new StringBuilder();
        var evals = trainer.Evaluations.ToLookup(e => e.Step);
        foreach (var e in evals[0]) sb.AppendLine(JsonSerializer.Serialize(new { step = 0, eval_loss = e.Loss, perplexity = e.Perplexity }));
        foreach (var h in trainer.History)
        {
            sb.AppendLine(JsonSerializer.Serialize(new { step = h.Step, loss = h.Loss, lr = h.LearningRate }));
            foreach (var e in evals[h.Step]) sb.AppendLine(JsonSerializer.Serialize(new { step = h.Step, eval_loss = e.Loss, perplexity = e.Perplexity }));
        }
        AtomicFile.Write(path, s => s.Write(Encoding.UTF8.GetBytes(sb.ToString())));
    }
}
