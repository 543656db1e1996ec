namespace PeftEngine.Nn.Optim;

/// <summary>
/// The base of the optimizers: parameter groups, per-parameter state, <see cref="ZeroGrad"/>,
/// <see cref="Step"/> and saving/loading of state. A subclass writes only the update of one parameter.
/// </summary>
/// <remarks>PyTorch: torch.optim.Optimizer. Updates run under GradMode.Disable and change the parameters in
/// place; parameters without a gradient (frozen, or unused in the last backward) are skipped.</remarks>
public abstract class Optimizer : IDisposable
{
    private readonly List<ParamGroup> _groups = new();
    private readonly Dictionary<Parameter, ParamState> _state = new(ReferenceEqualityComparer.Instance);

    /// <summary>Sets up the groups, filling unset lr / weight decay with the defaults.</summary>
    protected Optimizer(IEnumerable<ParamGroup> groups, double lr, double weightDecay)
    {
        if (!(lr >= 0)) throw new ArgumentOutOfRangeException(nameof(lr), $"{GetType().Name}: learning rate must be >= 0, got {lr}");
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var g in groups)
        {
            if (double.IsNaN(g.Lr)) g.Lr = lr;
            if (double.IsNaN(g.WeightDecay)) g.WeightDecay = weightDecay;
            g.InitialLr = g.Lr;
            foreach (var p in g.Parameters)
                if (!seen.Add(p)) throw new ArgumentException($"{GetType().Name}: a parameter {p.Shape} appears in more than one group");
            _groups.Add(g);
        }
        if (_groups.Count == 0) throw new ArgumentException($"{GetType().Name}: no parameter groups");
    }

    /// <summary>The parameter groups (their Lr can be changed between steps).</summary>
    /// <remarks>PyTorch: optimizer.param_groups.</remarks>
    public IReadOnlyList<ParamGroup> ParamGroups => _groups;

    /// <summary>The state of <paramref name="p"/>, or null before its first step.</summary>
    public ParamState? GetState(Parameter p) => _state.GetValueOrDefault(p);

    /// <summary>Disposes the gradients of all parameters.</summary>
    /// <remarks>PyTorch: optimizer.zero_grad(set_to_none=True).</remarks>
    public void ZeroGrad()
    {
        foreach (var g in _groups)
            foreach (var p in g.Parameters) p.ZeroGrad();
    }

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    /// <remarks>PyTorch: optimizer.step().</remarks>
    public void Step()
    {
        using (GradMode.Disable())
            foreach (var g in _groups)
                foreach (var p in g.Parameters)
                {
                    if (p.Grad is not { } grad || !p.RequiresGrad) continue;
                    if (grad.Shape != p.Shape || grad.DType != p.DType)
                        throw new InvalidOperationException($"{GetType().Name}.Step: gradient {grad.Shape} {grad.DType.Name()} does not match parameter {p.Shape} {p.DType.Name()}");
                    if (!_state.TryGetValue(p, out var state)) _state[p] = state = new ParamState();
                    state.Step++;
                    Update(g, p.Data, grad, state);
                }
    }

    /// <summary>Updates one parameter in place (called under no-grad, after state.Step was incremented).</summary>
    protected abstract void Update(ParamGroup group, Tensor param, Tensor grad, ParamState state);

    /// <summary>A state tensor named <paramref name="name"/> for the parameter, created as zeros on first use.</summary>
    protected static Tensor StateTensor(ParamState state, string name, Tensor like)
    {
        if (!state.Tensors.TryGetValue(name, out var t)) state.Tensors[name] = t = TensorScope.Detach(Tensor.ZerosLike(like));   // outlives the step's scope
        return t;
    }

    /// <summary>Copies of the groups' hyperparameters and of every parameter's state.</summary>
    /// <remarks>PyTorch: optimizer.state_dict().</remarks>
    public OptimizerStateDict StateDict()
    {
        var dict = new OptimizerStateDict();
        int index = 0;
        using (GradMode.Disable())
            foreach (var g in _groups)
            {
                var ids = new int[g.Parameters.Count];
                for (int i = 0; i < ids.Length; i++, index++)
                {
                    ids[i] = index;
                    if (!_state.TryGetValue(g.Parameters[i], out var s)) continue;
                    var copy = new ParamState { Step = s.Step };
                    foreach (var (name, t) in s.Tensors) copy.Tensors[name] = Ops.Clone(t);
                    dict.State[index] = copy;
                }
                dict.Groups.Add((g.Lr, g.WeightDecay, g.InitialLr, ids));
            }
        return dict;
    }

    /// <summary>Restores hyperparameters and state saved by <see cref="StateDict"/> from an optimizer over the
    /// same groups (same sizes, same parameter shapes). The tensors are copied.</summary>
    /// <remarks>PyTorch: optimizer.load_state_dict(state_dict).</remarks>
    public void LoadStateDict(OptimizerStateDict dict)
    {
        if (dict.Groups.Count != _groups.Count)
            throw new ArgumentException($"{GetType().Name}.LoadStateDict: saved state has {dict.Groups.Count} parameter groups, the optimizer has {_groups.Count}");
        var all = new List<Parameter>();
        for (int g = 0; g < _groups.Count; g++)
        {
            if (dict.Groups[g].Params.Length != _groups[g].Parameters.Count)
                throw new ArgumentException($"{GetType().Name}.LoadStateDict: group {g} has {dict.Groups[g].Params.Length} parameters in the saved state but {_groups[g].Parameters.Count} here");
            all.AddRange(_groups[g].Parameters);
        }
        foreach (var (index, saved) in dict.State)
        {
            if (index < 0 || index >= all.Count)
                throw new ArgumentException($"{GetType().Name}.LoadStateDict: state for parameter index {index}, but there are {all.Count} parameters");
            foreach (var (name, t) in saved.Tensors) CheckSavedState(name, t, all[index], index);
        }
        foreach (var s in _state.Values) s.Dispose();
        _state.Clear();
        using (GradMode.Disable())
            foreach (var (index, saved) in dict.State)
            {
                var s = new ParamState { Step = saved.Step };
                foreach (var (name, t) in saved.Tensors) s.Tensors[name] = TensorScope.Detach(Ops.Clone(t));
                _state[all[index]] = s;
            }
        for (int g = 0; g < _groups.Count; g++)
        {
            _groups[g].Lr = dict.Groups[g].Lr;
            _groups[g].WeightDecay = dict.Groups[g].WeightDecay;
            _groups[g].InitialLr = dict.Groups[g].InitialLr;
        }
    }

    /// <summary>Checks one saved state tensor of parameter <paramref name="index"/> before <see cref="LoadStateDict"/>
    /// copies it. The default wants the parameter's shape and dtype; an optimizer that keeps its state in another form
    /// (e.g. quantized to 8 bits) overrides this.</summary>
    protected virtual void CheckSavedState(string name, Tensor saved, Parameter parameter, int index)
    {
        if (saved.Shape != parameter.Shape || saved.DType != parameter.DType)
            throw new ArgumentException($"{GetType().Name}.LoadStateDict: state \"{name}\" of parameter {index} is {saved.Shape} {saved.DType.Name()}, the parameter is {parameter.Shape} {parameter.DType.Name()}");
    }

    /// <summary>Frees the state tensors (not the parameters).</summary>
    public void Dispose()
    {
        foreach (var s in _state.Values) s.Dispose();
        _state.Clear();
        GC.SuppressFinalize(this);
    }
}
