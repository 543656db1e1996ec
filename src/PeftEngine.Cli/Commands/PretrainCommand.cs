using System.Globalization;
using PeftEngine.IO;
using PeftEngine.Models;
using PeftEngine.Models.Training;

namespace PeftEngine.Cli;

/// <summary>
/// `peft pretrain`: trains a causal language model from scratch on a text file with a given tokenizer and
/// config.json (llama, mistral, qwen2 or gpt2), logs progress and held-out perplexity, writes resumable
/// checkpoints and saves the finished model as a Hugging Face folder.
/// </summary>
public static class PretrainCommand
{
    private const string Usage = """
        usage: peft pretrain --config CONFIG.json --tokenizer tokenizer.json --data TRAIN.txt --out DIR [options]

          --valid FILE           held-out text for loss/perplexity (default: none)
          --steps N              optimizer steps (default 2000)
          --batch N              windows per micro-batch (default 8)
          --accumulate N         micro-batches per optimizer step (default 1)
          --seq-len N            tokens per window (default 128)
          --lr X                 peak learning rate of AdamW (default 0.002)
          --warmup N             linear warmup steps (default steps/20)
          --schedule S           cosine | linear | constant after warmup (default cosine)
          --weight-decay X       AdamW decoupled weight decay (default 0.1)
          --clip X               global gradient-norm limit, 0 = off (default 1.0)
          --eval-every N         evaluate every N steps (default 200; 0 = only at the end)
          --eval-batches N       held-out batches per evaluation (default 20; 0 = all)
          --checkpoint-every N   checkpoint every N steps (default 200; 0 = only on Ctrl+C / --stop-after)
          --checkpoints DIR      checkpoint folder (default OUT/checkpoints)
          --resume DIR           continue from the newest checkpoint in DIR
          --stop-after N         stop (with a checkpoint) after N steps of this run
          --log-every N          print progress every N steps (default 10)
          --seed N               seed of weights, dropout and data order (default 1234)
          --save-dtype T         f32 | bf16 | f16 for model.safetensors (default f32)
        Ctrl+C stops after the current step and writes a checkpoint.
        """;

    private static readonly string[] Known =
    [
        "config", "tokenizer", "data", "valid", "out", "steps", "batch", "accumulate", "seq-len", "lr", "warmup", "schedule",
        "weight-decay", "clip", "eval-every", "eval-batches", "checkpoint-every", "checkpoints", "resume", "stop-after",
        "log-every", "seed", "save-dtype",
    ];

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        if (args.Length == 1 && args[0] is "--help" or "-h")
        {
            Console.WriteLine(Usage);
            return 0;
        }
        var o = CommandLine.Options(args, Known);
        foreach (var required in new[] { "config", "tokenizer", "data", "out" })
            if (!o.ContainsKey(required)) throw new ArgumentException($"--{required} is required\n{Usage}");
        int steps = Math.Max(1, CommandLine.IntOption(o, "steps", 2000));
        var options = new PretrainOptions
        {
            ConfigPath = o["config"],
            TokenizerPath = o["tokenizer"],
            TrainText = o["data"],
            ValidText = o.GetValueOrDefault("valid"),
            OutputDirectory = o["out"],
            CheckpointDirectory = o.GetValueOrDefault("checkpoints"),
            ResumeFrom = o.GetValueOrDefault("resume"),
            SequenceLength = CommandLine.IntOption(o, "seq-len", 128),
            BatchSize = Math.Max(1, CommandLine.IntOption(o, "batch", 8)),
            Seed = (ulong)CommandLine.IntOption(o, "seed", 1234),
            StopAfter = o.ContainsKey("stop-after") ? CommandLine.IntOption(o, "stop-after", 0) : null,
            SaveDType = o.GetValueOrDefault("save-dtype", "f32") switch
            {
                "f32" => DType.F32,
                "bf16" => DType.BF16,
                "f16" => DType.F16,
                var other => throw new ArgumentException($"--save-dtype expects f32, bf16 or f16, got '{other}'"),
            },
            Trainer = new TrainerOptions
            {
                MaxSteps = steps,
                GradientAccumulationSteps = Math.Max(1, CommandLine.IntOption(o, "accumulate", 1)),
                LearningRate = DoubleOption(o, "lr", 2e-3),
                WarmupSteps = CommandLine.IntOption(o, "warmup", steps / 20),
                Schedule = o.GetValueOrDefault("schedule", "cosine") switch
                {
                    "cosine" => LrScheduleKind.Cosine,
                    "linear" => LrScheduleKind.Linear,
                    "constant" => LrScheduleKind.Constant,
                    var other => throw new ArgumentException($"--schedule expects cosine, linear or constant, got '{other}'"),
                },
                WeightDecay = DoubleOption(o, "weight-decay", 0.1),
                Betas = (0.9, 0.95),
                MaxGradNorm = DoubleOption(o, "clip", 1.0),
                EvalEvery = CommandLine.IntOption(o, "eval-every", 200),
                EvalBatches = CommandLine.IntOption(o, "eval-batches", 20),
                CheckpointEvery = CommandLine.IntOption(o, "checkpoint-every", 200),
                LogEvery = Math.Max(1, CommandLine.IntOption(o, "log-every", 10)),
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

    private static double DoubleOption(Dictionary<string, string> options, string name, double fallback)
    {
        if (!options.TryGetValue(name, out var text)) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(value >= 0))
            throw new ArgumentException($"--{name} expects a non-negative number, got '{text}'");
        return value;
    }
}
