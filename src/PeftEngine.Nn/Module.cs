using System.Text;

namespace PeftEngine.Nn;

/// <summary>
/// The base of every layer and model: a tree of named children, each holding named parameters and buffers.
/// Registration is explicit (no reflection): a layer's constructor calls <see cref="RegisterParameter"/>,
/// <see cref="RegisterBuffer"/> and <see cref="RegisterModule{T}"/>, and everything else (dotted names, state
/// dicts, freezing, casting, disposal) walks that tree in registration order.
/// </summary>
/// <remarks>
/// PyTorch: torch.nn.Module. Names follow Hugging Face checkpoints, so <c>model.layers.0.self_attn.q_proj.weight</c>
/// is the same string here as in a safetensors file. Layers reach their children through the registry (not a
/// cached field) so that <see cref="ReplaceSubmodule"/> (PEFT injection: a Linear swapped for an adapter that
/// wraps it) takes effect at once. A module owns its parameters, buffers and children and disposes them.
/// </remarks>
public abstract class Module : IDisposable
{
    private readonly OrderedDictionary<string, Parameter?> _parameters = new();
    private readonly OrderedDictionary<string, Tensor> _buffers = new();
    private readonly HashSet<string> _nonPersistent = new();
    private readonly OrderedDictionary<string, Module> _modules = new();
    private bool _disposed;

    /// <summary>True in training mode (dropout active), false in evaluation mode.</summary>
    /// <remarks>PyTorch: module.training. New modules start in training mode.</remarks>
    public bool IsTraining { get; private set; } = true;

    /// <summary>Runs the layer on one input. Layers with a single tensor input override this; others add
    /// overloads with more arguments.</summary>
    /// <remarks>PyTorch: module.forward / module(x).</remarks>
    public virtual Tensor Forward(Tensor x) =>
        throw new NotSupportedException($"{GetType().Name} has no single-tensor Forward; call one of its own overloads");

    // ---------------------------------------------------------------- registration

    /// <summary>Registers a parameter (or a null placeholder, like a disabled bias) under <paramref name="name"/>.</summary>
    /// <remarks>PyTorch: module.register_parameter(name, param).</remarks>
    protected Parameter? RegisterParameter(string name, Parameter? parameter)
    {
        CheckNewName(name);
        _parameters.Add(name, parameter);
        return parameter;
    }

    /// <summary>Registers a parameter that cannot be null and returns it.</summary>
    protected Parameter RegisterParameter(string name, Tensor data, bool requiresGrad = true) =>
        RegisterParameter(name, new Parameter(data, requiresGrad))!;

    /// <summary>Registers a child module under <paramref name="name"/> and returns it.</summary>
    /// <remarks>PyTorch: module.register_module / add_module (or attribute assignment).</remarks>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        ArgumentNullException.ThrowIfNull(module);
        CheckNewName(name);
        _modules.Add(name, module);
        return module;
    }

    /// <summary>Registers a tensor that is state but not trained (running statistics, rotary tables). A
    /// persistent buffer is part of the state dict; a non-persistent one is not.</summary>
    /// <remarks>PyTorch: module.register_buffer(name, tensor, persistent).</remarks>
    protected Tensor RegisterBuffer(string name, Tensor tensor, bool persistent = true)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckNewName(name);
        _buffers.Add(name, TensorScope.Detach(tensor));
        if (!persistent) _nonPersistent.Add(name);
        return tensor;
    }

    /// <summary>Removes the child registered under <paramref name="name"/> and returns it (the caller now owns it).</summary>
    /// <remarks>PyTorch: del module._modules[name] (PEFT's delete_adapter removes per-adapter children this way).</remarks>
    protected Module RemoveModule(string name)
    {
        if (!_modules.Remove(name, out var old))
            throw new KeyNotFoundException($"{GetType().Name}: no child module \"{name}\" to remove");
        return old;
    }

    /// <summary>Removes the parameter registered under <paramref name="name"/> and returns it (the caller now owns it).</summary>
    /// <remarks>PyTorch: del module._parameters[name].</remarks>
    protected Parameter? RemoveParameter(string name)
    {
        if (!_parameters.Remove(name, out var old))
            throw new KeyNotFoundException($"{GetType().Name}: no parameter \"{name}\" to remove");
        return old;
    }

    /// <summary>The parameter registered under <paramref name="name"/> on this module (null for a null placeholder).</summary>
    protected Parameter? GetParameter(string name) => _parameters.TryGetValue(name, out var p) ? p
        : throw new KeyNotFoundException($"{GetType().Name} has no parameter \"{name}\"");

    /// <summary>The buffer registered under <paramref name="name"/> on this module (reflects <see cref="To(DType)"/>).</summary>
    protected Tensor GetBuffer(string name) => _buffers.TryGetValue(name, out var b) ? b
        : throw new KeyNotFoundException($"{GetType().Name} has no buffer \"{name}\"");

    /// <summary>The direct child registered under <paramref name="name"/>.</summary>
    protected Module GetChild(string name) => _modules.TryGetValue(name, out var m) ? m
        : throw new KeyNotFoundException($"{GetType().Name} has no child module \"{name}\"");

    /// <summary>Direct children in registration order.</summary>
    /// <remarks>PyTorch: module.named_children().</remarks>
    public IEnumerable<(string Name, Module Module)> NamedChildren() => _modules.Select(kv => (kv.Key, kv.Value));

    private void CheckNewName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"{GetType().Name}: name \"{name}\" must be non-empty and contain no '.'");
        if (_parameters.ContainsKey(name) || _buffers.ContainsKey(name) || _modules.ContainsKey(name))
            throw new ArgumentException($"{GetType().Name}: \"{name}\" is already registered");
    }

    // ---------------------------------------------------------------- walking the tree

    /// <summary>Every module of the tree with its dotted path, this one first (path ""), depth first in
    /// registration order; a module reachable twice is listed once.</summary>
    /// <remarks>PyTorch: module.named_modules().</remarks>
    public IEnumerable<(string Name, Module Module)> NamedModules()
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        return Walk("", seen);
    }

    private IEnumerable<(string, Module)> Walk(string prefix, HashSet<Module> seen)
    {
        if (!seen.Add(this)) yield break;
        yield return (prefix, this);
        foreach (var (name, child) in _modules)
            foreach (var item in child.Walk(Join(prefix, name), seen))
                yield return item;
    }

    /// <summary>Every parameter of the tree with its dotted path (e.g. <c>layers.0.self_attn.q_proj.weight</c>);
    /// a parameter shared by two modules (tied weights) is listed once, under its first name.</summary>
    /// <remarks>PyTorch: module.named_parameters().</remarks>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var (path, m) in NamedModules())
            foreach (var (name, p) in m._parameters)
                if (p is not null && seen.Add(p))
                    yield return (Join(path, name), p);
    }

    /// <summary>The parameters of <see cref="NamedParameters"/> without their names.</summary>
    /// <remarks>PyTorch: module.parameters().</remarks>
    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(np => np.Parameter);

    /// <summary>Every buffer of the tree with its dotted path.</summary>
    /// <remarks>PyTorch: module.named_buffers().</remarks>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers()
    {
        foreach (var (path, m) in NamedModules())
            foreach (var (name, b) in m._buffers)
                yield return (Join(path, name), b);
    }

    /// <summary>The module at a dotted path below this one (<c>""</c> is this module).</summary>
    /// <remarks>PyTorch: module.get_submodule(target).</remarks>
    public Module GetSubmodule(string path)
    {
        if (path.Length == 0) return this;
        Module current = this;
        string walked = "";
        foreach (var part in path.Split('.'))
        {
            if (!current._modules.TryGetValue(part, out var next))
                throw new KeyNotFoundException($"GetSubmodule(\"{path}\"): {(walked.Length == 0 ? GetType().Name : walked)} ({current.GetType().Name}) has no child \"{part}\"");
            current = next;
            walked = Join(walked, part);
        }
        return current;
    }

    /// <summary>The module at <paramref name="path"/>, cast to <typeparamref name="T"/>.</summary>
    public T GetSubmodule<T>(string path) where T : Module => GetSubmodule(path) as T
        ?? throw new InvalidCastException($"GetSubmodule(\"{path}\"): found {GetSubmodule(path).GetType().Name}, expected {typeof(T).Name}");

    /// <summary>Puts <paramref name="replacement"/> at <paramref name="path"/> in place of the module there and
    /// returns the old one, which is no longer owned by this tree (the caller disposes it, or wraps it in the
    /// replacement as a PEFT adapter does).</summary>
    /// <remarks>PyTorch: setattr(parent, name, new_module), as PEFT's _replace_module does.</remarks>
    public Module ReplaceSubmodule(string path, Module replacement)
    {
        ArgumentNullException.ThrowIfNull(replacement);
        if (path.Length == 0) throw new ArgumentException("ReplaceSubmodule: cannot replace the root module");
        int dot = path.LastIndexOf('.');
        var parent = dot < 0 ? this : GetSubmodule(path[..dot]);
        string name = path[(dot + 1)..];
        if (!parent._modules.TryGetValue(name, out var old))
            throw new KeyNotFoundException($"ReplaceSubmodule(\"{path}\"): {parent.GetType().Name} has no child \"{name}\"");
        parent._modules[name] = replacement;
        return old;
    }

    /// <summary>Adds <paramref name="module"/> as a new child at <paramref name="path"/> (its parent must exist and
    /// the last name must be free), e.g. a PEFT method attaching its own module beside a layer's children.</summary>
    /// <remarks>PyTorch: parent.add_module(name, module).</remarks>
    public void AddSubmodule(string path, Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (string.IsNullOrEmpty(path)) throw new ArgumentException("AddSubmodule: the path must name the new child");
        int dot = path.LastIndexOf('.');
        var parent = dot < 0 ? this : GetSubmodule(path[..dot]);
        parent.RegisterModule(path[(dot + 1)..], module);
    }

    /// <summary>Removes the child at <paramref name="path"/> and returns it (the caller now owns it).</summary>
    /// <remarks>PyTorch: delattr(parent, name).</remarks>
    public Module RemoveSubmodule(string path)
    {
        if (string.IsNullOrEmpty(path)) throw new ArgumentException("RemoveSubmodule: cannot remove the root module");
        int dot = path.LastIndexOf('.');
        var parent = dot < 0 ? this : GetSubmodule(path[..dot]);
        return parent.RemoveModule(path[(dot + 1)..]);
    }

    /// <summary>Calls <paramref name="action"/> on every module of the tree, children before parents.</summary>
    /// <remarks>PyTorch: module.apply(fn) (also children first).</remarks>
    public Module Apply(Action<Module> action)
    {
        foreach (var (_, child) in _modules) child.Apply(action);
        action(this);
        return this;
    }

    // ---------------------------------------------------------------- modes and freezing

    /// <summary>Sets training mode on this module and all its descendants.</summary>
    /// <remarks>PyTorch: module.train(mode).</remarks>
    public Module Train(bool mode = true)
    {
        foreach (var (_, m) in NamedModules()) m.IsTraining = mode;
        return this;
    }

    /// <summary>Sets evaluation mode (same as <c>Train(false)</c>).</summary>
    /// <remarks>PyTorch: module.eval().</remarks>
    public Module Eval() => Train(false);

    /// <summary>Marks every parameter as trainable (true) or frozen (false).</summary>
    /// <remarks>PyTorch: module.requires_grad_(requires_grad).</remarks>
    public Module RequiresGrad(bool requiresGrad = true)
    {
        foreach (var p in Parameters()) p.RequiresGrad = requiresGrad;
        return this;
    }

    /// <summary>Disposes the gradients of every parameter.</summary>
    /// <remarks>PyTorch: module.zero_grad(set_to_none=True).</remarks>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>Number of parameter elements, of all parameters or only the trainable ones.</summary>
    /// <remarks>PyTorch: sum(p.numel() for p in model.parameters() if p.requires_grad); HF num_parameters().</remarks>
    public long NumParameters(bool trainableOnly = false) =>
        Parameters().Where(p => !trainableOnly || p.RequiresGrad).Sum(p => p.Numel);

    /// <summary>Casts every floating-point parameter and buffer to <paramref name="dtype"/> in place of the old
    /// tensors (which are disposed); gradients are dropped. Integer buffers are left alone.</summary>
    /// <remarks>PyTorch: module.to(dtype).</remarks>
    public Module To(DType dtype)
    {
        if (!dtype.IsFloat()) throw new ArgumentException($"Module.To: target dtype must be floating point, not {dtype.Name()}");
        using (GradMode.Disable())
        {
            foreach (var p in Parameters())
            {
                if (p.DType == dtype || !p.DType.IsFloat()) continue;
                var old = p.Data;
                old.ZeroGrad();
                p.Data = old.To(dtype);
                old.Dispose();
            }
            foreach (var (_, m) in NamedModules())
                foreach (var name in m._buffers.Keys.ToList())
                {
                    var old = m._buffers[name];
                    if (old.DType == dtype || !old.DType.IsFloat()) continue;
                    m._buffers[name] = TensorScope.Detach(old.To(dtype));
                    old.Dispose();
                }
        }
        return this;
    }

    /// <summary>Moves every parameter and buffer to <paramref name="device"/> in place of the old tensors (which are
    /// disposed); gradients are dropped. Tied parameters stay tied (each parameter object moves once).</summary>
    /// <remarks>PyTorch: module.to(device).</remarks>
    public Module To(Device device)
    {
        using (GradMode.Disable())
        {
            foreach (var (_, m) in NamedModules()) m.MoveExtra(device);
            foreach (var p in Parameters())
            {
                if (p.Data.Device == device) continue;
                var old = p.Data;
                old.ZeroGrad();
                p.Data = old.To(device);
                old.Dispose();
            }
            foreach (var (_, m) in NamedModules())
                foreach (var name in m._buffers.Keys.ToList())
                {
                    var old = m._buffers[name];
                    if (old.Device == device) continue;
                    m._buffers[name] = TensorScope.Detach(old.To(device));
                    old.Dispose();
                }
        }
        return this;
    }

    // ---------------------------------------------------------------- state dict

    /// <summary>Every parameter and persistent buffer by dotted name, as detached views of the module's
    /// tensors (tied parameters appear under each of their names).</summary>
    /// <remarks>PyTorch: module.state_dict().</remarks>
    public StateDict StateDict()
    {
        var dict = new StateDict();
        foreach (var (name, t) in StateEntries()) dict.Add(name, t.Detach());
        return dict;
    }

    private IEnumerable<(string Name, Tensor Tensor)> StateEntries()
    {
        foreach (var (path, m) in NamedModules())
        {
            foreach (var (name, p) in m._parameters)
                if (p is not null) yield return (Join(path, name), p.Data);
            foreach (var (name, b) in m._buffers)
                if (!m._nonPersistent.Contains(name)) yield return (Join(path, name), b);
        }
    }

    /// <summary>
    /// Copies the tensors of <paramref name="dict"/> into this module's parameters and persistent buffers.
    /// Every matched key must have the module's shape and dtype (an error names the key). With
    /// <paramref name="strict"/>, missing or unexpected keys are an error listing them all; otherwise they
    /// are returned.
    /// </summary>
    /// <remarks>PyTorch: module.load_state_dict(state_dict, strict). Unlike PyTorch, a dtype difference is an
    /// error rather than a silent cast.</remarks>
    public LoadResult LoadStateDict(IReadOnlyDictionary<string, Tensor> dict, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(dict);
        var entries = StateEntries().ToList();
        var missing = new List<string>();
        var errors = new List<string>();
        var known = new HashSet<string>();
        foreach (var (name, target) in entries)
        {
            known.Add(name);
            if (!dict.TryGetValue(name, out var source)) { missing.Add(name); continue; }
            if (source.Shape != target.Shape)
                errors.Add($"size mismatch for {name}: copying a param with shape {source.Shape} from checkpoint, the shape in current model is {target.Shape}.");
            else if (source.DType != target.DType)
                errors.Add($"dtype mismatch for {name}: checkpoint has {source.DType.Name()}, the model has {target.DType.Name()}; cast one of them first.");
        }
        var unexpected = dict.Keys.Where(k => !known.Contains(k)).ToList();
        if (strict)
        {
            if (unexpected.Count > 0) errors.Insert(0, "Unexpected key(s) in state_dict: " + Quote(unexpected) + ".");
            if (missing.Count > 0) errors.Insert(0, "Missing key(s) in state_dict: " + Quote(missing) + ".");
        }
        if (errors.Count > 0)
        {
            var sb = new StringBuilder($"Error(s) in loading state_dict for {GetType().Name}:");
            foreach (var e in errors) sb.Append("\n\t").Append(e);
            throw new ArgumentException(sb.ToString());
        }
        using (GradMode.Disable())
            foreach (var (name, target) in entries)
                if (dict.TryGetValue(name, out var source))
                    Ops.CopyInPlace(target, source);
        return new LoadResult(missing, unexpected);
    }

    private static string Quote(IEnumerable<string> keys) => string.Join(", ", keys.Select(k => $"\"{k}\""));

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    // ---------------------------------------------------------------- printing and disposal

    /// <summary>A one-line description of this layer's settings (shown by <see cref="ToString"/>).</summary>
    /// <remarks>PyTorch: module.extra_repr().</remarks>
    protected virtual string ExtraRepr() => "";

    /// <summary>The module tree, one child per line, like PyTorch's print(model).</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        Print(sb, 0);
        return sb.ToString();
    }

    private void Print(StringBuilder sb, int indent)
    {
        sb.Append(GetType().Name).Append('(').Append(ExtraRepr());
        if (_modules.Count > 0)
        {
            sb.Append('\n');
            foreach (var (name, child) in _modules)
            {
                sb.Append(' ', indent + 2).Append('(').Append(name).Append("): ");
                child.Print(sb, indent + 2);
                sb.Append('\n');
            }
            sb.Append(' ', indent);
        }
        sb.Append(')');
    }

    /// <summary>Disposes every parameter, buffer and child of the tree (each once, even when shared).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        var parameters = Parameters().ToList();
        var modules = NamedModules().Select(nm => nm.Module).ToList();
        foreach (var p in parameters) p.Dispose();
        foreach (var m in modules)
        {
            foreach (var b in m._buffers.Values) b.Dispose();
            m.DisposeExtra();
            m._disposed = true;
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees anything a layer owns besides its registered parameters, buffers and children.</summary>
    protected virtual void DisposeExtra() { }

    /// <summary>Moves anything a layer owns besides its registered parameters, buffers and children (e.g. a packed
    /// quantized weight) to <paramref name="device"/>; <see cref="To(Device)"/> calls it on every module before it
    /// moves the parameters, so a layer that cannot live on the device can refuse before anything has moved.</summary>
    protected virtual void MoveExtra(Device device) { }
}
