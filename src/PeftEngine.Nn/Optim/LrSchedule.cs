namespace PeftEngine.Nn.Optim;

/// <summary>
/// Learning-rate multipliers as functions of the step, with Hugging Face's formulas. Each multiplies the
/// group's initial learning rate; warmup rises linearly from 0 at step 0 to 1 at step <c>warmup</c>.
/// </summary>
/// <remarks>HF: transformers.get_constant_schedule, get_constant_schedule_with_warmup,
/// get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup.</remarks>
public static class LrSchedule
{
    /// <summary>Always 1.</summary>
    public static Func<int, double> Constant() => _ => 1.0;

    /// <summary>step / warmup during warmup, then 1.</summary>
    public static Func<int, double> ConstantWithWarmup(int warmupSteps) =>
        step => step < warmupSteps ? (double)step / Math.Max(1, warmupSteps) : 1.0;

    /// <summary>Warmup, then a straight line down to 0 at <paramref name="totalSteps"/>:
    /// max(0, (total − step) / (total − warmup)).</summary>
    public static Func<int, double> LinearWithWarmup(int warmupSteps, int totalSteps) => step =>
        step < warmupSteps
            ? (double)step / Math.Max(1, warmupSteps)
            : Math.Max(0.0, (double)(totalSteps - step) / Math.Max(1, totalSteps - warmupSteps));

    /// <summary>Warmup, then a cosine: max(0, ½(1 + cos(π · 2 · cycles · progress))) with progress =
    /// (step − warmup) / (total − warmup); the default half cycle goes from 1 down to 0.</summary>
    public static Func<int, double> CosineWithWarmup(int warmupSteps, int totalSteps, double numCycles = 0.5) => step =>
    {
        if (step < warmupSteps) return (double)step / Math.Max(1, warmupSteps);
        double progress = (double)(step - warmupSteps) / Math.Max(1, totalSteps - warmupSteps);
        return Math.Max(0.0, 0.5 * (1 + Math.Cos(Math.PI * numCycles * 2 * progress)));
    };
}

/// <summary>Sets each group's learning rate to initial_lr × multiplier(step), starting at step 0 on
/// construction; call <see cref="Step"/> after each optimizer step.</summary>
/// <remarks>PyTorch: torch.optim.lr_scheduler.LambdaLR (which HF's schedules return).</remarks>
public sealed class LrScheduler
{
    private readonly Optimizer _optimizer;
    private readonly Func<int, double> _multiplier;

    /// <summary>Attaches the schedule and applies step 0's rate.</summary>
    public LrScheduler(Optimizer optimizer, Func<int, double> multiplier)
    {
        _optimizer = optimizer;
        _multiplier = multiplier;
        Apply();
    }

    /// <summary>Steps taken so far.</summary>
    /// <remarks>PyTorch: scheduler.last_epoch.</remarks>
    public int StepCount { get; private set; }

    /// <summary>The current learning rate of each group.</summary>
    /// <remarks>PyTorch: scheduler.get_last_lr().</remarks>
    public double[] LastLr => _optimizer.ParamGroups.Select(g => g.Lr).ToArray();

    /// <summary>Advances one step and updates the learning rates.</summary>
    public void Step()
    {
        StepCount++;
        Apply();
    }

    private void Apply()
    {
        double m = _multiplier(StepCount);
        foreach (var g in _optimizer.ParamGroups) g.Lr = g.InitialLr * m;
    }
}
