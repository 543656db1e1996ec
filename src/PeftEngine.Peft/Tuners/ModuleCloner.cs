using PeftEngine.Nn;

namespace PeftEngine.Peft.Tuners;

/// <summary>
/// Makes a trainable F32 copy of a module for <c>modules_to_save</c>. A module tree has no generic deep copy, so each
/// layer type registers how to rebuild itself; the built-in layers (Linear, Conv1D, Embedding, LayerNorm, RMSNorm,
/// Conv1d, Conv2d) are registered, and <see cref="Register{T}"/> adds more.
/// </summary>
/// <remarks>HF: copy.deepcopy(module) in ModulesToSaveWrapper.update.</remarks>
public static class ModuleCloner
{
    private static readonly Dictionary<Type, Func<Module, Module>> Factories = new()
    {
        [typeof(Linear)] = m => { var l = (Linear)m; return new Linear(l.InFeatures, l.OutFeatures, l.Bias is not null); },
        [typeof(Conv1D)] = m => { var c = (Conv1D)m; return new Conv1D(c.OutFeatures, c.InFeatures); },
        [typeof(Embedding)] = m => { var e = (Embedding)m; return new Embedding(e.NumEmbeddings, e.EmbeddingDim, e.PaddingIdx); },
        [typeof(LayerNorm)] = m => { var n = (LayerNorm)m; return new LayerNorm(n.NormalizedShape, n.Eps, n.Weight is not null, n.Bias is not null); },
        [typeof(RmsNorm)] = m => { var n = (RmsNorm)m; return new RmsNorm(n.Dim, n.Eps); },
        [typeof(Conv1d)] = m =>
        {
            var c = (Conv1d)m;
            return new Conv1d(c.Weight.Shape[1] * c.Groups, c.Weight.Shape[0], c.Weight.Shape[2], c.Stride, c.Padding, c.Dilation, c.Groups, c.Bias is not null);
        },
        [typeof(Conv2d)] = m =>
        {
            var c = (Conv2d)m;
            return new Conv2d(c.Weight.Shape[1] * c.Groups, c.Weight.Shape[0], (c.Weight.Shape[2], c.Weight.Shape[3]), c.Stride, c.Padding, c.Dilation, c.Groups, c.Bias is not null);
        },
    };

    /// <summary>Teaches the cloner to rebuild modules of type <typeparamref name="T"/> (the values are copied afterwards).</summary>
    public static void Register<T>(Func<T, Module> create) where T : Module
    {
        lock (Factories) Factories[typeof(T)] = m => create((T)m);
    }

    /// <summary>True when <paramref name="module"/> can be copied.</summary>
    public static bool CanClone(Module module)
    {
        lock (Factories) return Factories.ContainsKey(module.GetType());
    }

    /// <summary>A new module of the same type and shape holding F32 copies of <paramref name="module"/>'s state.</summary>
    public static Module Clone(Module module)
    {
        Func<Module, Module>? factory;
        lock (Factories) Factories.TryGetValue(module.GetType(), out factory);
        if (factory is null)
            throw new NotSupportedException($"modules_to_save: cannot copy a {module.GetType().Name}; supported: {string.Join(", ", Factories.Keys.Select(t => t.Name))} (add one with ModuleCloner.Register)");
        var copy = factory(module);
        using var source = module.StateDict();
        var f32 = new Dictionary<string, Tensor>();
        try
        {
            foreach (var (k, v) in source) f32[k] = v.DType == DType.F32 ? v.Alias() : Ops.Cast(v, DType.F32);
            copy.LoadStateDict(f32);
        }
        finally
        {
            foreach (var t in f32.Values) t.Dispose();
        }
        copy.Train(module.IsTraining);
        return copy;
    }
}
