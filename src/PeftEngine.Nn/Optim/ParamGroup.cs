namespace PeftEngine.Nn.Optim;

/// <summary>A set of parameters trained with their own learning rate and weight decay (e.g. no decay for
/// biases and norms, or a higher rate for an adapter).</summary>
/// <remarks>PyTorch: one dict of optimizer.param_groups ({"params": [...], "lr": ..., "weight_decay": ...}).
/// A null <c>lr</c> / <c>weightDecay</c> takes the optimizer's default.</remarks>
public sealed class ParamGroup(IEnumerable<Parameter> parameters, double? lr = null, double? weightDecay = null)
{
    /// <summary>The parameters of the group.</summary>
    public IReadOnlyList<Parameter> Parameters { get; } = parameters.ToList();

    /// <summary>Learning rate (changed by schedulers).</summary>
    public double Lr { get; set; } = lr ?? double.NaN;

    /// <summary>Weight decay coefficient.</summary>
    public double WeightDecay { get; set; } = weightDecay ?? double.NaN;

    /// <summary>The learning rate the group started with (schedulers scale this one).</summary>
    /// <remarks>PyTorch: group["initial_lr"].</remarks>
    public double InitialLr { get; internal set; }
}

/// <summary>The per-parameter state of an optimizer: its step count and named tensors (e.g. exp_avg).</summary>
public sealed class ParamState : IDisposable
{
    /// <summary>Number of updates applied to the parameter.</summary>
    public long Step { get; set; }

    /// <summary>Named state tensors in creation order (momentum_buffer, exp_avg, exp_avg_sq).</summary>
    public OrderedDictionary<string, Tensor> Tensors { get; } = new();

    /// <summary>Disposes the tensors.</summary>
    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
        Tensors.Clear();
    }
}

/// <summary>A saved optimizer: per group its hyperparameters and parameter indices, per parameter index its
/// state (cloned tensors, owned by this object).</summary>
/// <remarks>PyTorch: optimizer.state_dict() = {"state": {index: {...}}, "param_groups": [...]}; indices count
/// parameters across groups in order.</remarks>
public sealed class OptimizerStateDict : IDisposable
{
    /// <summary>Learning rate, weight decay and parameter indices of each group.</summary>
    public List<(double Lr, double WeightDecay, double InitialLr, int[] Params)> Groups { get; } = new();

    /// <summary>State by parameter index (parameters never stepped have none).</summary>
    public SortedDictionary<int, ParamState> State { get; } = new();

    /// <summary>Disposes the state tensors.</summary>
    public void Dispose()
    {
        foreach (var s in State.Values) s.Dispose();
        State.Clear();
    }
}
