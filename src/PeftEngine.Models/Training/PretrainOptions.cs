namespace PeftEngine.Models.Training;

/// <summary>Inputs and settings of a <see cref="Pretraining"/> run.</summary>
/// <remarks>HF: the arguments of transformers' <c>run_clm.py</c> (train_file, validation_file, config_name,
/// tokenizer_name, block_size, per_device_train_batch_size, output_dir, resume_from_checkpoint, seed).</remarks>
public sealed record PretrainOptions
{
    /// <summary>UTF-8 training text (documents may be separated by the end-of-text token).</summary>
    public required string TrainText { get; init; }

    /// <summary>Held-out text for evaluation, or null for none.</summary>
    public string? ValidText { get; init; }

    /// <summary>The tokenizer.json to tokenize with (copied into the output folder).</summary>
    public required string TokenizerPath { get; init; }

    /// <summary>The config.json of the architecture to build.</summary>
    public required string ConfigPath { get; init; }

    /// <summary>Where the finished model goes (HF layout).</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Checkpoint folder; null means <c>{output}/checkpoints</c>.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>A checkpoint (or checkpoint folder) to resume from; null starts afresh.</summary>
    public string? ResumeFrom { get; init; }

    /// <summary>Tokens per training window.</summary>
    public int SequenceLength { get; init; } = 128;

    /// <summary>Windows per micro-batch.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Seed of the initial weights, dropout and data order.</summary>
    public ulong Seed { get; init; } = 1234;

    /// <summary>Stop after this many steps of this invocation (a checkpoint is written), null to run to the end.</summary>
    public int? StopAfter { get; init; }

    /// <summary>The dtype of the saved weights (f32, bf16 or f16).</summary>
    public DType SaveDType { get; init; } = DType.F32;

    /// <summary>Optimizer, schedule, evaluation and checkpoint settings (its checkpoint folder is set by the run).</summary>
    public TrainerOptions Trainer { get; init; } = new();
}
