// LoRA (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022, arXiv:2106.09685):
//
//     y = base(x) + s · B(A(dropout(x))),   A ∈ R^{r×in}, B ∈ R^{out×r},   s = α / r   (rsLoRA: s = α / √r,
//     Kalajdzievski 2023, arXiv:2312.03732)
//
// so the adapted weight is W' = W + s·B·A (transposed for a fan_in_fan_out weight). Merging adds ΔW = s·B·A to W,
// unmerging subtracts it again. DoRA (Liu et al., ICML 2024, arXiv:2402.09353) rescales each output row:
// W' = m ⊙ (W + ΔW) / ‖W + ΔW‖_row (for an embedding: each embedding dimension), see DoraMath.

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Lora;

/// <summary>
/// What every LoRA layer shares, whatever it wraps: the per-adapter rank, alpha, scaling and dropout, the active /
/// merged / disabled state, the forward pass that adds each active adapter's update to the base output, mixed
/// batches, and merge / unmerge through each subclass's <see cref="DeltaWeight"/>.
/// </summary>
/// <remarks>HF: peft.tuners.lora.layer.LoraLayer plus the shared parts of its Linear / Embedding / Conv classes.
/// Children: <c>base_layer</c>, <c>lora_dropout</c>, <c>lora_A</c>, <c>lora_B</c>, <c>lora_embedding_A</c>,
/// <c>lora_embedding_B</c>, <c>lora_magnitude_vector</c>, each keyed by adapter name as in HF.</remarks>
public abstract class LoraLayer : Module, ITunerLayer
{
    private readonly List<string> _adapters = new();
    private readonly List<string> _merged = new();
    private List<string> _active = new();
    private readonly Dictionary<string, Tensor> _doraMergeNorm = new();

    /// <summary>Wraps <paramref name="baseLayer"/>, which this layer now owns.</summary>
    protected LoraLayer(Module baseLayer, PeftRuntime runtime)
    {
        Runtime = runtime;
        RegisterModule("base_layer", baseLayer);
        RegisterModule("lora_dropout", new AdapterDict<Dropout>());
        RegisterModule("lora_A", new AdapterDict<Module>());
        RegisterModule("lora_B", new AdapterDict<Module>());
        RegisterModule("lora_embedding_A", new AdapterParameterDict());
        RegisterModule("lora_embedding_B", new AdapterParameterDict());
        RegisterModule("lora_magnitude_vector", new AdapterDict<WeightHolder>());
    }

    /// <summary>The batch state shared with the model.</summary>
    protected PeftRuntime Runtime { get; }

    /// <summary>Rank per adapter.</summary>
    public Dictionary<string, int> Rank { get; } = new();

    /// <summary>α per adapter.</summary>
    public Dictionary<string, double> Alpha { get; } = new();

    /// <summary>s = α/r (or α/√r) per adapter.</summary>
    public Dictionary<string, double> Scaling { get; } = new();

    /// <summary>Whether each adapter is a DoRA adapter.</summary>
    public Dictionary<string, bool> UseDora { get; } = new();

    /// <summary>The A factors (Linear / Conv modules) per adapter.</summary>
    public AdapterDict<Module> LoraA => (AdapterDict<Module>)GetChild("lora_A");

    /// <summary>The B factors (Linear / Conv modules) per adapter.</summary>
    public AdapterDict<Module> LoraB => (AdapterDict<Module>)GetChild("lora_B");

    /// <summary>The embedding A factors (r, num) per adapter.</summary>
    public AdapterParameterDict EmbeddingA => (AdapterParameterDict)GetChild("lora_embedding_A");

    /// <summary>The embedding B factors (dim, r) per adapter.</summary>
    public AdapterParameterDict EmbeddingB => (AdapterParameterDict)GetChild("lora_embedding_B");

    /// <summary>The dropout on the LoRA branch's input per adapter.</summary>
    public AdapterDict<Dropout> LoraDropout => (AdapterDict<Dropout>)GetChild("lora_dropout");

    /// <summary>DoRA magnitude vectors per adapter.</summary>
    public AdapterDict<WeightHolder> MagnitudeVector => (AdapterDict<WeightHolder>)GetChild("lora_magnitude_vector");

    /// <inheritdoc/>
    public Module BaseLayer => GetChild("base_layer");

    /// <summary>The base layer's weight.</summary>
    protected abstract Parameter BaseWeight { get; }

    /// <summary>The base weight as a new F32 tensor in its stored layout (a 4-bit base is dequantized).</summary>
    protected virtual Tensor ReadBaseWeight() => Ops.Cast(BaseWeight, DType.F32);

    /// <summary>Stores an F32 weight (in the stored layout) into the base layer, in the base's own dtype or format.</summary>
    protected virtual void WriteBaseWeight(Tensor weight)
    {
        using var stored = weight.DType == BaseWeight.DType ? weight.Alias() : Ops.Cast(weight, BaseWeight.DType);
        Ops.CopyInPlace(BaseWeight, stored);
    }

    /// <summary>The base layer's bias, if any.</summary>
    protected abstract Parameter? BaseBias { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> AdapterNames => _adapters;

    /// <inheritdoc/>
    public IReadOnlyList<string> ActiveAdapters { get => _active; set => _active = value.ToList(); }

    /// <inheritdoc/>
    public bool Disabled { get; set; }

    /// <inheritdoc/>
    public IReadOnlyList<string> MergedAdapters => _merged;

    /// <summary>Adds the factors of <paramref name="adapter"/> for the module at <paramref name="path"/>.</summary>
    public void AddAdapter(string adapter, LoraConfig config, string path, Generator? generator)
    {
        if (_adapters.Contains(adapter)) throw new ArgumentException($"LoRA layer '{path}': adapter \"{adapter}\" already exists");
        int r = config.RankFor(path);
        double alpha = config.AlphaFor(path);
        if (r <= 0) throw new ArgumentException($"LoRA layer '{path}': `r` should be a positive integer value but the value passed is {r}");
        if (config.UseDora && !SupportsDora)
            throw new NotSupportedException($"LoRA layer '{path}': DoRA is implemented for Linear, Conv1D, Embedding, Conv1d and Conv2d layers, not {BaseLayer.GetType().Name}");
        CreateFactors(adapter, r, config, generator);
        LoraDropout.Add(adapter, new Dropout(config.LoraDropout, generator));
        Rank[adapter] = r;
        Alpha[adapter] = alpha;
        Scaling[adapter] = config.UseRslora ? alpha / Math.Sqrt(r) : alpha / r;
        UseDora[adapter] = config.UseDora;
        InitializeFromWeight(adapter, r, Scaling[adapter], config, generator);
        _adapters.Add(adapter);
        if (config.UseDora)
            MagnitudeVector.Add(adapter, new WeightHolder(DoraMath.InitialMagnitude(this, adapter)));
        Train(BaseLayer.IsTraining);
    }

    /// <summary>Initialisations that read the base weight (PiSSA, LoftQ); the default supports none of them.</summary>
    protected virtual void InitializeFromWeight(string adapter, int r, double scaling, LoraConfig config, Generator? generator)
    {
        if (config.InitLoraWeights is LoraInit.Pissa or LoraInit.Loftq)
            throw new NotSupportedException($"LoRA: init_lora_weights = {config.InitLoraWeights} is implemented for Linear layers, not {BaseLayer.GetType().Name}");
    }

    /// <summary>True when this layer type implements DoRA.</summary>
    protected virtual bool SupportsDora => false;

    /// <summary>Creates and initialises the A and B factors of a new adapter (F32).</summary>
    protected abstract void CreateFactors(string adapter, int r, LoraConfig config, Generator? generator);

    /// <summary>ΔW = s·B·A of <paramref name="adapter"/> in F32, in the layout of the base weight.</summary>
    /// <remarks>HF: LoraLayer.get_delta_weight(adapter).</remarks>
    public abstract Tensor DeltaWeight(string adapter);

    /// <summary>The update s·B(A(dropout(x))) of <paramref name="adapter"/> for input <paramref name="x"/>, in F32.</summary>
    protected abstract Tensor LoraOutput(Tensor x, string adapter);

    /// <summary>Adds one adapter's contribution to <paramref name="result"/> (DoRA layers override this).</summary>
    protected virtual Tensor AddAdapterOutput(Tensor x, Tensor result, string adapter)
    {
        using var delta = LoraOutput(x, adapter);
        using var cast = MaybeOwned.Cast(delta, result.DType);
        return Ops.Add(result, cast.Value);
    }

    /// <summary>base(x) plus the update of every active adapter (the base output alone when disabled or merged).</summary>
    public override Tensor Forward(Tensor x)
    {
        if (Disabled)
        {
            if (_merged.Count > 0) Unmerge();
            return BaseLayer.Forward(x);
        }
        if (Runtime.SampleAdapters is not null) return MixedBatchForward(x);
        var result = BaseLayer.Forward(x);
        if (_merged.Count > 0) return result;
        foreach (var a in _active)
        {
            if (!_adapters.Contains(a)) continue;
            var next = AddAdapterOutput(x, result, a);
            result.Dispose();
            result = next;
        }
        return result;
    }

    private Tensor MixedBatchForward(Tensor x)
    {
        if (IsTraining) throw new InvalidOperationException("Cannot pass `adapter_names` when the model is in training mode.");
        if (_merged.Count > 0) throw new InvalidOperationException("Cannot pass `adapter_names` when there are merged adapters, please call `unmerge_adapter` first.");
        if (UseDora.Values.Any(d => d)) throw new NotSupportedException("Cannot pass `adapter_names` when DoRA is enabled.");
        Runtime.CheckBatch(x, "LoRA layer");
        var result = BaseLayer.Forward(x);
        Runtime.AddPerGroup(x, result, _adapters.Contains, (a, sub) => LoraOutput(sub, a));
        return result;
    }

    // ------------------------------------------------------------------ merging

    /// <summary>The weight <paramref name="adapter"/> merged into <paramref name="current"/> (F32, base layout) gives.</summary>
    private Tensor MergedWeight(Tensor current, string adapter)
    {
        using var delta = DeltaWeight(adapter);
        var sum = Ops.Add(current, delta);
        if (!UseDora[adapter]) return sum;
        using (sum)
        {
            var (scaled, norm) = DoraMath.MergeRows(this, sum, adapter);
            _doraMergeNorm[adapter] = norm;
            return scaled;
        }
    }

    /// <inheritdoc/>
    public void CheckMergeIsFinite(IReadOnlyList<string> adapters)
    {
        using var _ = GradMode.Disable();
        var weight = ReadBaseWeight();
        try
        {
            foreach (var a in adapters.Where(a => _adapters.Contains(a) && !_merged.Contains(a)))
            {
                var next = MergedWeight(weight, a);
                if (_doraMergeNorm.Remove(a, out var n)) n.Dispose();
                weight.Dispose();
                weight = next;
                if (!AllFinite(weight)) throw new ArgumentException($"NaNs detected in the merged weights. The adapter {a} seems to be broken");
            }
        }
        finally { weight.Dispose(); }
    }

    /// <inheritdoc/>
    public void Merge(IReadOnlyList<string> adapters, bool safeMerge)
    {
        var todo = adapters.Where(a => _adapters.Contains(a) && !_merged.Contains(a)).ToList();
        if (todo.Count == 0) return;
        if (safeMerge) CheckMergeIsFinite(todo);
        using var _ = GradMode.Disable();
        foreach (var a in todo)
        {
            using var current = ReadBaseWeight();
            using var merged = MergedWeight(current, a);
            WriteBaseWeight(merged);
            MergeBias(a, +1);
            _merged.Add(a);
        }
    }

    /// <inheritdoc/>
    public void Unmerge()
    {
        using var _ = GradMode.Disable();
        while (_merged.Count > 0)
        {
            string a = _merged[^1];
            using var current = ReadBaseWeight();
            using var delta = DeltaWeight(a);
            Tensor restored;
            if (UseDora[a] && _doraMergeNorm.Remove(a, out var norm))
            {
                using (norm)
                using (var unscaled = DoraMath.UnmergeRows(this, current, a, norm))
                    restored = Ops.Sub(unscaled, delta);
            }
            else restored = Ops.Sub(current, delta);
            using (restored) WriteBaseWeight(restored);
            MergeBias(a, -1);
            _merged.RemoveAt(_merged.Count - 1);
        }
    }

    /// <summary>With lora_bias, adds (sign = +1) or removes (−1) s·b_B from the base bias.</summary>
    private void MergeBias(string adapter, int sign)
    {
        if (LoraB.ContainsKey(adapter) && LoraB[adapter].NamedParameters().FirstOrDefault(p => p.Name == "bias").Parameter is { } b)
        {
            if (BaseBias is null) throw new InvalidOperationException("LoRA: lora_bias needs a base layer with a bias to merge into");
            using var scaled = Ops.Mul(b.Data, sign * Scaling[adapter]);
            using var cast = Ops.Cast(scaled, BaseBias.DType);
            Ops.AddInPlace(BaseBias, cast);
        }
    }

    private static bool AllFinite(Tensor t)
    {
        foreach (var v in t.ToFloatArray())
            if (!float.IsFinite(v)) return false;
        return true;
    }

    // ------------------------------------------------------------------ adapter bookkeeping

    /// <inheritdoc/>
    public void DeleteAdapter(string adapter)
    {
        if (!_adapters.Contains(adapter)) return;
        if (_merged.Contains(adapter)) throw new InvalidOperationException($"LoRA: cannot delete adapter \"{adapter}\" while it is merged; unmerge first");
        LoraA.Remove(adapter);
        LoraB.Remove(adapter);
        EmbeddingA.Remove(adapter);
        EmbeddingB.Remove(adapter);
        LoraDropout.Remove(adapter);
        MagnitudeVector.Remove(adapter);
        Rank.Remove(adapter);
        Alpha.Remove(adapter);
        Scaling.Remove(adapter);
        UseDora.Remove(adapter);
        _adapters.Remove(adapter);
        _active.Remove(adapter);
    }

    /// <inheritdoc/>
    public void SetAdapterRequiresGrad(string adapter, bool requiresGrad) =>
        AdapterChildParameters.SetRequiresGrad(this, adapter, requiresGrad);

    /// <inheritdoc/>
    public IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter) =>
        AdapterChildParameters.Of(this, adapter);

    /// <inheritdoc/>
    public Module ReleaseBaseLayer() => RemoveModule("base_layer");

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"adapters=[{string.Join(", ", _adapters.Select(a => $"{a}: r={Rank[a]}"))}]";

    /// <summary>The A factor (rank along dim 0) and B factor (rank along dim 1) of <paramref name="adapter"/>.</summary>
    internal abstract (Parameter A, Parameter B) Factors(string adapter);

    /// <summary>The base weight as F32 (out, in) whatever its stored layout and dtype (for DoRA's norms).</summary>
    internal abstract Tensor BaseWeightOutIn();

    /// <summary>The dimension of the base weight that indexes outputs (0 for Linear, 1 for Conv1D).</summary>
    internal abstract int OutputDim { get; }

    /// <summary>The rank of the base weight (2, or 3 / 4 for a convolution kernel).</summary>
    internal virtual int WeightRank => 2;
}
