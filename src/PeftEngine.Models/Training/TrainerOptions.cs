namespace PeftEngine.Models.Training;

/// <summary>The learning-rate curve after warmup.</summary>
public enum LrScheduleKind
{
    /// <summary>Flat at the peak rate.</summary>
    Constant,
    /// <summary>Straight down to 0 at the last step.</summary>
    Linear,
    /// <summary>Half a cosine down to 0 at the last step.</summary>
    Cosine,
}

/// <summary>The optimizer a <see cref="Trainer"/> builds.</summary>
public enum TrainerOptimizer
{
    /// <summary>AdamW with F32 moments (torch.optim.AdamW).</summary>
    AdamW,
    /// <summary>AdamW with blockwise 8-bit moments (bitsandbytes AdamW8bit; F32 parameters on the CPU).</summary>
    AdamW8Bit,
}

/// <summary>Settings of a <see cref="Trainer"/> run.</summary>
/// <remarks>HF: the training part of <c>transformers.TrainingArguments</c> (max_steps,
/// gradient_accumulation_steps, learning_rate, weight_decay, adam_beta1/2, adam_epsilon, warmup_steps,
/// lr_scheduler_type, max_grad_norm, eval_steps, save_steps, save_total_limit, logging_steps, seed).</remarks>
public sealed record TrainerOptions
{
    /// <summary>Optimizer steps to run in total.</summary>
    public int MaxSteps { get; init; } = 100;

    /// <summary>Micro-batches whose gradients are summed (each loss divided by this) before one optimizer step.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>The optimizer: AdamW (default) or its 8-bit-state variant.</summary>
    /// <remarks>HF: TrainingArguments.optim ("adamw_torch" or "adamw_bnb_8bit").</remarks>
    public TrainerOptimizer Optimizer { get; init; } = TrainerOptimizer.AdamW;

    /// <summary>Peak learning rate of AdamW.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>AdamW's decoupled weight decay.</summary>
    public double WeightDecay { get; init; } = 0.0;

    /// <summary>AdamW's (β1, β2).</summary>
    public (double Beta1, double Beta2) Betas { get; init; } = (0.9, 0.999);

    /// <summary>AdamW's ε.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Steps of linear warmup from 0 to the peak rate.</summary>
    public int WarmupSteps { get; init; }

    /// <summary>The curve after warmup.</summary>
    public LrScheduleKind Schedule { get; init; } = LrScheduleKind.Cosine;

    /// <summary>Clip the global gradient norm to this value; null or ≤ 0 disables clipping.</summary>
    public double? MaxGradNorm { get; init; } = 1.0;

    /// <summary>Evaluate on the held-out data every this many steps (0: only at the end).</summary>
    public int EvalEvery { get; init; }

    /// <summary>At most this many held-out batches per evaluation (0: all).</summary>
    public int EvalBatches { get; init; }

    /// <summary>Save a checkpoint every this many steps (0: never during training).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Folder of the checkpoints (required when <see cref="CheckpointEvery"/> &gt; 0).</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>Checkpoints kept; older ones are deleted once a newer one is complete.</summary>
    public int KeepCheckpoints { get; init; } = 2;

    /// <summary>Whether checkpoints store every parameter, or only those that require gradients (enough to
    /// resume when the frozen ones come from the same base model).</summary>
    public bool CheckpointAllParameters { get; init; }

    /// <summary>Report progress every this many steps (the first and last steps are always reported).</summary>
    public int LogEvery { get; init; } = 1;

    /// <summary>Throws when the settings cannot run.</summary>
    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSteps, 1, nameof(MaxSteps));
        ArgumentOutOfRangeException.ThrowIfLessThan(GradientAccumulationSteps, 1, nameof(GradientAccumulationSteps));
        ArgumentOutOfRangeException.ThrowIfNegative(WarmupSteps, nameof(WarmupSteps));
        ArgumentOutOfRangeException.ThrowIfNegative(EvalEvery, nameof(EvalEvery));
        ArgumentOutOfRangeException.ThrowIfNegative(CheckpointEvery, nameof(CheckpointEvery));
        ArgumentOutOfRangeException.ThrowIfLessThan(KeepCheckpoints, 1, nameof(KeepCheckpoints));
        ArgumentOutOfRangeException.ThrowIfLessThan(LogEvery, 1, nameof(LogEvery));
        if (!(LearningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "Trainer: the learning rate must be >= 0.");
        if (CheckpointEvery > 0 && string.IsNullOrEmpty(CheckpointDirectory))
            throw new ArgumentException("Trainer: CheckpointEvery is set but CheckpointDirectory is not.", nameof(CheckpointDirectory));
    }
}
