using System.ComponentModel;
using PeftEngine.IO;
using PeftEngine.Models;
using PeftEngine.Models.Training;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>
/// <c>peft pretrain</c>: trains a causal language model from scratch on a text file with a given tokenizer and
/// config.json (llama, mistral, qwen2 or gpt2), logs progress and held-out perplexity, writes resumable
/// checkpoints and saves the finished model as a Hugging Face folder.
/// </summary>
public sealed class PretrainCommand : Command<PretrainCommand.Settings>
{
    /// <summary>Options of <c>peft pretrain</c>. Ctrl+C stops after the current step and writes a checkpoint.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--config <FILE>"), Description("config.json of the model to create: llama, mistral, qwen2 or gpt2 (required)")]
        public string? Config { get; init; }

        [CommandOption("--tokenizer <FILE>"), Description("tokenizer.json to encode the text with (required)")]
        public string? Tokenizer { get; init; }

        [CommandOption("--data <FILE>"), Description("Training text (required)")]
        public string? Data { get; init; }

        [CommandOption("--valid <FILE>"), Description("Held-out text for loss/perplexity (default: none)")]
        public string? Valid { get; init; }

        [CommandOption("-o|--out <DIR>"), Description("Folder for the finished model (required)")]
        public string? Out { get; init; }

        [CommandOption("--steps <N>"), Description("Optimizer steps (default: 2000)")]
        public int Steps { get; init; } = 2000;

        [CommandOption("-b|--batch <N>"), Description("Windows per micro-batch (default: 8)")]
        public int Batch { get; init; } = 8;

        [CommandOption("--accumulate <N>"), Description("Micro-batches per optimizer step (default: 1)")]
        public int Accumulate { get; init; } = 1;

        [CommandOption("--seq-len <N>"), Description("Tokens per window (default: 128)")]
        public int SeqLen { get; init; } = 128;

        [CommandOption("--lr <LR>"), Description("Peak learning rate of AdamW (default: 0.002)")]
        public double Lr { get; init; } = 2e-3;

        [CommandOption("--warmup <N>"), Description("Linear warm-up steps (default: steps / 20)")]
        public int? Warmup { get; init; }

        [CommandOption("--schedule <KIND>"), Description("cosine, linear or constant after warm-up (default: cosine)")]
        public string Schedule { get; init; } = "cosine";

        [CommandOption("--weight-decay <X>"), Description("AdamW decoupled weight decay (default: 0.1)")]
        public double WeightDecay { get; init; } = 0.1;

        [CommandOption("--clip <X>"), Description("Global gradient-norm limit, 0 = off (default: 1.0)")]
        public double Clip { get; init; } = 1.0;

        [CommandOption("--eval-every <N>"), Description("Evaluate every N steps, 0 = only at the end (default: 200)")]
        public int EvalEvery { get; init; } = 200;

        [CommandOption("--eval-batches <N>"), Description("Held-out batches per evaluation, 0 = all (default: 20)")]
        public int EvalBatches { get; init; } = 20;

        [CommandOption("--checkpoint-every <N>"), Description("Checkpoint every N steps, 0 = only on Ctrl+C / --stop-after (default: 200)")]
        public int CheckpointEvery { get; init; } = 200;

        [CommandOption("--checkpoints <DIR>"), Description("Checkpoint folder (default: OUT/checkpoints)")]
        public string? Checkpoints { get; init; }

        [CommandOption("--resume <DIR>"), Description("Continue from the newest checkpoint in DIR (default: start fresh)")]
        public string? Resume { get; init; }

        [CommandOption("--stop-after <N>"), Description("Stop (with a checkpoint) after N steps of this run (default: run to the end)")]
        public int? StopAfter { get; init; }

        [CommandOption("--log-every <N>"), Description("Print progress every N steps (default: 10)")]
        public int LogEvery { get; init; } = 10;

        [CommandOption("--seed <SEED>"), Description("Seed of weights, dropout and data order (default: 1234)")]
        public ulong Seed { get; init; } = 1234;

        [CommandOption("--save-dtype <DTYPE>"), Description("f32, bf16 or f16 for model.safetensors (default: f32)")]
        public string SaveDtype { get; init; } = "f32";
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings o, CancellationToken cancellationToken)
    {
        foreach (var (name, value) in new[] { ("config", o.Config), ("tokenizer", o.Tokenizer), ("data", o.Data), ("out", o.Out) })
            if (value is null) throw new ArgumentException($"--{name} is required (see peft pretrain --help)");
        foreach (var (name, value) in new[] { ("steps", o.Steps), ("batch", o.Batch), ("accumulate", o.Accumulate), ("seq-len", o.SeqLen), ("eval-every", o.EvalEvery),
                     ("eval-batches", o.EvalBatches), ("checkpoint-every", o.CheckpointEvery), ("warmup", o.Warmup ?? 0), ("stop-after", o.StopAfter ?? 0), ("log-every", o.LogEvery) })
            if (value < 0) throw new ArgumentException($"--{name} expects a non-negative integer, got {value}");
        foreach (var (name, value) in new[] { ("lr", o.Lr), ("weight-decay", o.WeightDecay), ("clip", o.Clip) })
            if (!(value >= 0)) throw new ArgumentException($"--{name} expects a non-negative number, got {value}");
        int steps = Math.Max(1, o.Steps);
        var options = new PretrainOptions
        {
            ConfigPath = o.Config!,
            TokenizerPath = o.Tokenizer!,
            TrainText = o.Data!,
            ValidText = o.Valid,
            OutputDirectory = o.Out!,
            CheckpointDirectory = o.Checkpoints,
            ResumeFrom = o.Resume,
            SequenceLength = o.SeqLen,
            BatchSize = Math.Max(1, o.Batch),
            Seed = o.Seed,
            StopAfter = o.StopAfter,
            SaveDType = o.SaveDtype switch
            {
                "f32" => DType.F32,
                "bf16" => DType.BF16,
                "f16" => DType.F16,
                var other => throw new ArgumentException($"--save-dtype expects f32, bf16 or f16, got '{other}'"),
            },
            Trainer = new TrainerOptions
            {
                MaxSteps = steps,
                GradientAccumulationSteps = Math.Max(1, o.Accumulate),
                LearningRate = o.Lr,
                WarmupSteps = o.Warmup ?? steps / 20,
                Schedule = o.Schedule switch
                {
                    "cosine" => LrScheduleKind.Cosine,
                    "linear" => LrScheduleKind.Linear,
                    "constant" => LrScheduleKind.Constant,
                    var other => throw new ArgumentException($"--schedule expects cosine, linear or constant, got '{other}'"),
                },
                WeightDecay = o.WeightDecay,
                Betas = (0.9, 0.95),
                MaxGradNorm = o.Clip,
                EvalEvery = o.EvalEvery,
                EvalBatches = o.EvalBatches,
                CheckpointEvery = o.CheckpointEvery,
                LogEvery = Math.Max(1, o.LogEvery),
                CheckpointAllParameters = true,
            },
        };

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            Console.Error.WriteLine("peft pretrain: stopping after this step and writing a checkpoint ...");
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var result = Pretraining.Run(options, CreateModel, Console.WriteLine, cancel.Token);
            if (!result.Completed)
                Console.WriteLine($"stopped at step {result.Step}; continue with --resume {Path.GetDirectoryName(result.Checkpoint)}");
            return 0;
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or DirectoryNotFoundException or NotSupportedException)
        {
            throw new ArgumentException(e.Message, e);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Builds an untrained model for a parsed config.</summary>
    private static ICausalLanguageModel CreateModel(HfModelConfig config, Generator generator) => config switch
    {
        RopeDecoderConfig rope => new LlamaModel(rope, generator: generator),
        Gpt2Config gpt2 => new Gpt2Model(gpt2, generator: generator),
        _ => throw new NotSupportedException($"peft pretrain: model_type '{config.ModelType}' is not a causal language model (use llama, mistral, qwen2 or gpt2)"),
    };
}
