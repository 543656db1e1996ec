// Bottleneck adapters around one sub-layer module (DESIGN.md §3 injection points 2 and 8).
//
// Series (Houlsby et al., "Parameter-Efficient Transfer Learning for NLP", ICML 2019, arXiv:1902.00751), on the
// output h of the wrapped module:      h ← h + s·(f(h·W_downᵀ + b_down)·W_upᵀ + b_up)
// Parallel (He et al., "Towards a Unified View of Parameter-Efficient Transfer Learning", ICLR 2022,
// arXiv:2110.04366), beside it, reading its input x:   out = module(x) + s·(f(x·W_downᵀ + b_down)·W_upᵀ + b_up)
// AdapterFusion (Pfeiffer et al., EACL 2021, arXiv:2005.00247): h ← h + Σ_n s_n(h)·W_V·z_n(h), see AdapterFusion.
//
// W_down ∈ R^{m×d_in}, W_up ∈ R^{d_out×m}: 2·d·m + d + m parameters per adapter when d_in = d_out = d. The
// non-linearity makes the adapter impossible to fold into the base weights, so merging is refused.

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Adapters;

/// <summary>
/// The tuner layer of bottleneck adapters: wraps one sub-layer module (a projection, an MLP or the dropout after a
/// projection) and holds, per named adapter, <c>adapter_down</c> (d_in → m), <c>adapter_up</c> (m → d_out) and
/// <c>adapter_dropout</c>, plus, per fusion, <c>adapter_fusion</c>. Active adapters apply in the order they are
/// active: a parallel adapter adds its output computed from the module's input, a series adapter or a fusion adds
/// its output computed from the current output (so several active series adapters stack).
/// </summary>
/// <remarks>No HF PEFT equivalent. AdapterHub: <c>adapters.methods.bottleneck.BottleneckLayer</c> (Adapter with
/// adapter_down / adapter_up) and <c>BertFusion</c>; LLM-Adapters' vendored <c>peft.tuners.bottleneck.Linear</c>.</remarks>
public sealed class BottleneckLayer : Module, ITunerLayer
{
    private readonly List<string> _adapters = new();
    private List<string> _active = new();
    private readonly Dictionary<string, AdapterSettings> _settings = new();
    private readonly Dictionary<string, AdapterFusionConfig> _fusions = new();

    /// <summary>One adapter's fixed settings.</summary>
    private sealed record AdapterSettings(bool Parallel, double Scaling, ActivationKind Activation, int Bottleneck);

    /// <summary>Wraps <paramref name="baseLayer"/> (now owned by this layer), whose input has <paramref name="inWidth"/>
    /// features (null when unknown, e.g. a dropout) and whose output has <paramref name="outWidth"/>.</summary>
    public BottleneckLayer(Module baseLayer, int? inWidth, int outWidth, PeftRuntime runtime)
    {
        Runtime = runtime;
        InWidth = inWidth;
        OutWidth = outWidth;
        RegisterModule("base_layer", baseLayer);
        RegisterModule("adapter_dropout", new AdapterDict<Dropout>());
        RegisterModule("adapter_down", new AdapterDict<Linear>());
        RegisterModule("adapter_up", new AdapterDict<Linear>());
        RegisterModule("adapter_fusion", new AdapterDict<AdapterFusion>());
    }

    private PeftRuntime Runtime { get; }

    /// <summary>Features of the wrapped module's input (what a parallel adapter reads), if known.</summary>
    public int? InWidth { get; }

    /// <summary>Features of the wrapped module's output (what a series adapter reads and every adapter writes).</summary>
    public int OutWidth { get; }

    /// <summary>W_down, b_down per adapter.</summary>
    public AdapterDict<Linear> AdapterDown => (AdapterDict<Linear>)GetChild("adapter_down");

    /// <summary>W_up, b_up per adapter.</summary>
    public AdapterDict<Linear> AdapterUp => (AdapterDict<Linear>)GetChild("adapter_up");

    /// <summary>The dropout on each adapter's input.</summary>
    public AdapterDict<Dropout> AdapterDropoutLayers => (AdapterDict<Dropout>)GetChild("adapter_dropout");

    /// <summary>The fusion parameters per fusion name.</summary>
    public AdapterDict<AdapterFusion> Fusions => (AdapterDict<AdapterFusion>)GetChild("adapter_fusion");

    /// <summary>True when <paramref name="adapter"/> is a parallel adapter here.</summary>
    public bool IsParallel(string adapter) => _settings.TryGetValue(adapter, out var s) && s.Parallel;

    /// <summary>True when <paramref name="adapter"/> is a fusion here.</summary>
    public bool IsFusion(string adapter) => _fusions.ContainsKey(adapter);

    /// <summary>The adapters a fusion here mixes (empty for a plain adapter).</summary>
    public IReadOnlyList<string> FusedAdapters(string fusion) => _fusions.TryGetValue(fusion, out var c) ? c.Adapters : [];

    /// <summary>The bottleneck width m of <paramref name="adapter"/>.</summary>
    public int Bottleneck(string adapter) => _settings[adapter].Bottleneck;

    /// <inheritdoc/>
    public Module BaseLayer => GetChild("base_layer");

    /// <inheritdoc/>
    public IReadOnlyList<string> AdapterNames => _adapters;

    /// <inheritdoc/>
    public IReadOnlyList<string> ActiveAdapters { get => _active; set => _active = value.ToList(); }

    /// <inheritdoc/>
    public bool Disabled { get; set; }

    /// <inheritdoc/>
    public IReadOnlyList<string> MergedAdapters => [];

    /// <summary>Adds the projections of <paramref name="adapter"/> for the module at <paramref name="path"/>.</summary>
    public void AddAdapter(string adapter, BottleneckConfig config, string path, Generator? generator)
    {
        if (_adapters.Contains(adapter)) throw new ArgumentException($"Bottleneck layer '{path}': adapter \"{adapter}\" already exists");
        int dIn = config.UseParallelAdapter
            ? InWidth ?? throw new NotSupportedException($"BOTTLENECK: a parallel adapter reads the input of '{path}' ({BaseLayer.GetType().Name}), whose width is unknown; wrap a projection or an MLP")
            : OutWidth;
        int m = config.BottleneckFor(OutWidth);
        var down = new Linear(dIn, m, bias: true, generator: generator);     // F32 whatever the base dtype
        var up = new Linear(m, OutWidth, bias: true, generator: generator);
        Initialize(down, up, config.InitWeights, generator);
        AdapterDown.Add(adapter, down);
        AdapterUp.Add(adapter, up);
        AdapterDropoutLayers.Add(adapter, new Dropout(config.AdapterDropout, generator));
        _settings[adapter] = new AdapterSettings(config.UseParallelAdapter, config.Scaling, Activation.Parse(config.NonLinearity), m);
        _adapters.Add(adapter);
        Train(BaseLayer.IsTraining);
    }

    private static void Initialize(Linear down, Linear up, BottleneckInit init, Generator? generator)
    {
        switch (init)
        {
            case BottleneckInit.Houlsby:       // truncated normal, std 1e-2, cut at ±2σ
                Init.TruncatedNormal(down.Weight, 0, 1e-2, -2e-2, 2e-2, generator);
                Init.TruncatedNormal(up.Weight, 0, 1e-2, -2e-2, 2e-2, generator);
                break;
            case BottleneckInit.MamAdapter:    // W_down keeps Linear's kaiming-uniform(a = √5); W_up = 0
                using (GradMode.Disable()) Ops.FillInPlace(up.Weight, 0);
                break;
            case BottleneckInit.Bert:
                Init.Normal(down.Weight, 0, 0.02, generator);
                Init.Normal(up.Weight, 0, 0.02, generator);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(init), init, "unknown bottleneck init");
        }
        using (GradMode.Disable())
        {
            Ops.FillInPlace(down.Bias!, 0);
            Ops.FillInPlace(up.Bias!, 0);
        }
    }

    /// <summary>Adds the fusion <paramref name="fusion"/> over adapters already in this layer.</summary>
    public void AddFusion(string fusion, AdapterFusionConfig config, string path, Generator? generator)
    {
        if (_adapters.Contains(fusion)) throw new ArgumentException($"Bottleneck layer '{path}': adapter \"{fusion}\" already exists");
        foreach (var a in config.Adapters)
        {
            if (!_settings.TryGetValue(a, out var s))
                throw new ArgumentException($"ADAPTER_FUSION: '{path}' has no bottleneck adapter \"{a}\" (it holds: {string.Join(", ", _settings.Keys)})");
            if (s.Parallel) throw new NotSupportedException($"ADAPTER_FUSION: adapter \"{a}\" at '{path}' is a parallel adapter; fusion mixes series adapters");
        }
        Fusions.Add(fusion, new AdapterFusion(OutWidth, generator));
        _fusions[fusion] = config;
        _adapters.Add(fusion);
        Train(BaseLayer.IsTraining);
    }

    // ------------------------------------------------------------------ forward

    /// <summary>The module's output with every active adapter applied (the module's output alone when disabled).</summary>
    public override Tensor Forward(Tensor x)
    {
        if (Disabled) return BaseLayer.Forward(x);
        if (Runtime.SampleAdapters is not null) return MixedBatchForward(x);
        var h = BaseLayer.Forward(x);
        foreach (var a in _active)
        {
            if (!_adapters.Contains(a)) continue;
            using var delta = Delta(a, x, h);
            using var cast = MaybeOwned.Cast(delta, h.DType);
            var next = Ops.Add(h, cast.Value);
            h.Dispose();
            h = next;
        }
        return h;
    }

    /// <summary>What <paramref name="adapter"/> adds to the output <paramref name="h"/> of the module on input
    /// <paramref name="x"/>, in F32.</summary>
    private Tensor Delta(string adapter, Tensor x, Tensor h)
    {
        if (_fusions.TryGetValue(adapter, out var fusion)) return FusionOutput(adapter, fusion, h);
        return AdapterOutput(adapter, _settings[adapter].Parallel ? x : h);
    }

    /// <summary>s·(f(dropout(u)·W_downᵀ + b_down)·W_upᵀ + b_up) for <paramref name="u"/> (…, d_in), in F32.</summary>
    public Tensor AdapterOutput(string adapter, Tensor u)
    {
        var s = _settings[adapter];
        using var input = MaybeOwned.Cast(u, DType.F32);
        using var dropped = AdapterDropoutLayers[adapter].Forward(input.Value);
        using var down = AdapterDown[adapter].Forward(dropped);      // (…, d_in) -> (…, m)
        using var act = Activation.Apply(s.Activation, down);
        var up = AdapterUp[adapter].Forward(act);                    // (…, m) -> (…, d_out)
        if (s.Scaling == 1) return up;
        using (up) return Ops.Mul(up, s.Scaling);
    }

    private Tensor FusionOutput(string fusion, AdapterFusionConfig config, Tensor h)
    {
        using var hF = MaybeOwned.Cast(h, DType.F32);
        var z = new List<Tensor>(config.Adapters.Length);
        try
        {
            foreach (var a in config.Adapters) z.Add(AdapterOutput(a, hF.Value));
            return Fusions[fusion].Mix(hF.Value, z, config.Temperature);
        }
        finally
        {
            foreach (var t in z) t.Dispose();
        }
    }

    private Tensor MixedBatchForward(Tensor x)
    {
        if (IsTraining) throw new InvalidOperationException("Cannot pass `adapter_names` when the model is in training mode.");
        Runtime.CheckBatch(x, "Bottleneck layer");
        var h = BaseLayer.Forward(x);
        if (h.Shape[0] != x.Shape[0]) throw new ArgumentException($"Bottleneck layer: mixed batch needs the output batch {h.Shape} to equal the input batch {x.Shape}");
        // each sample group has one adapter: a parallel one reads its rows of x, the others their rows of h (the
        // groups' rows are disjoint, so adding into h's rows of one group leaves the others' inputs as they were)
        Runtime.AddPerGroup(x, h, a => _adapters.Contains(a) && IsParallel(a), (a, sub) => AdapterOutput(a, sub));
        Runtime.AddPerGroup(h, h, a => _adapters.Contains(a) && !IsParallel(a), (a, sub) => Delta(a, sub, sub));
        return h;
    }

    // ------------------------------------------------------------------ merging (refused)

    private void RefuseMerge(IReadOnlyList<string> adapters)
    {
        var mine = adapters.Where(_adapters.Contains).ToList();
        if (mine.Count > 0)
            throw new NotSupportedException($"Merging is not supported for BOTTLENECK adapters ({string.Join(", ", mine)}): "
                + "the adapter f(h·W_down)·W_up is non-linear, so it cannot be folded into the base weights. Use Unload() to remove it or keep the PeftModel.");
    }

    /// <inheritdoc/>
    public void Merge(IReadOnlyList<string> adapters, bool safeMerge) => RefuseMerge(adapters);

    /// <inheritdoc/>
    public void CheckMergeIsFinite(IReadOnlyList<string> adapters) => RefuseMerge(adapters);

    /// <inheritdoc/>
    public void Unmerge() { }

    // ------------------------------------------------------------------ adapter bookkeeping

    /// <summary>The fusion in this layer that uses <paramref name="adapter"/>, if any.</summary>
    public string? FusionUsing(string adapter) => _fusions.FirstOrDefault(kv => kv.Value.Adapters.Contains(adapter)).Key;

    /// <inheritdoc/>
    public void DeleteAdapter(string adapter)
    {
        if (!_adapters.Contains(adapter)) return;
        if (FusionUsing(adapter) is { } f)
            throw new InvalidOperationException($"Cannot delete adapter {adapter}: the fusion \"{f}\" mixes it; delete the fusion first");
        AdapterDown.Remove(adapter);
        AdapterUp.Remove(adapter);
        AdapterDropoutLayers.Remove(adapter);
        Fusions.Remove(adapter);
        _settings.Remove(adapter);
        _fusions.Remove(adapter);
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
    protected override string ExtraRepr() => $"adapters=[{string.Join(", ", _adapters.Select(a =>
        _fusions.TryGetValue(a, out var f) ? $"{a}: fusion of {string.Join("+", f.Adapters)}"
        : $"{a}: {(_settings[a].Parallel ? "parallel" : "series")} m={_settings[a].Bottleneck}"))}]";
}
