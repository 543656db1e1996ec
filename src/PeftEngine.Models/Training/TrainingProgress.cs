namespace PeftEngine.Models.Training;

/// <summary>What the trainer reports after an optimizer step.</summary>
/// <param name="Step">Steps completed (1-based).</param>
/// <param name="MaxSteps">Steps of the whole run.</param>
/// <param name="Loss">Mean training loss of the step's micro-batches.</param>
/// <param name="LearningRate">The rate the step was taken with (first parameter group).</param>
/// <param name="GradNorm">Global gradient norm before clipping.</param>
/// <param name="TokensPerSecond">Tokens (non-padding) processed per second since this run (or resume) began.</param>
/// <param name="Elapsed">Wall time since this run (or resume) began.</param>
/// <param name="Eta">Estimated time to the last step.</param>
public sealed record TrainingProgress(int Step, int MaxSteps, double Loss, double LearningRate, double GradNorm,
    double TokensPerSecond, TimeSpan Elapsed, TimeSpan Eta)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"step {Step}/{MaxSteps}  loss {Loss:F4}  lr {LearningRate:E2}  grad-norm {GradNorm:F3}  {TokensPerSecond:F0} tok/s  eta {Eta:hh\\:mm\\:ss}";
}

/// <summary>Held-out loss of a model.</summary>
/// <param name="Step">The step after which it was measured.</param>
/// <param name="Loss">Mean next-token cross-entropy over every scored position.</param>
/// <param name="Tokens">Positions scored.</param>
public sealed record EvalResult(int Step, double Loss, long Tokens)
{
    /// <summary>exp(loss).</summary>
    public double Perplexity => Math.Exp(Loss);

    /// <inheritdoc/>
    public override string ToString() => $"eval @ step {Step}: loss {Loss:F4}  perplexity {Perplexity:F2}  ({Tokens} tokens)";
}

/// <summary>One line of the loss history kept by the trainer (and saved with its checkpoints).</summary>
/// <param name="Step">Step number.</param>
/// <param name="Loss">Training loss of that step.</param>
/// <param name="LearningRate">Learning rate used.</param>
public readonly record struct LossRecord(int Step, double Loss, double LearningRate);
