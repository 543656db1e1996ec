using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Reft;

/// <summary>
/// The ReFT interventions of one decoder layer, one entry per adapter, attached as the child <c>reft</c> of the
/// decoder layer (<c>model.layers.2.reft</c>). An adapter holds one <see cref="ReftIntervention"/> when its
/// weights are shared or its position spec has one group, else a pair (<c>first</c>, <c>last</c>). The model's
/// layer-output hook calls <see cref="Apply"/> with the layer's output; active adapters are applied in turn.
/// </summary>
/// <remarks>pyreft: the interventions pyvene attaches to <c>layer.{l}.comp.block_output</c>. Merging is
/// impossible (the edit depends on the position), so <see cref="Merge"/> throws.</remarks>
public sealed class ReftLayer : Module, IAttachedTunerLayer
{
    private readonly Module _decoderLayer;
    private readonly List<string> _names = new();
    private readonly Dictionary<string, ReftConfig> _configs = new(StringComparer.Ordinal);
    private List<string> _active = new();

    /// <summary>An empty intervention holder beside <paramref name="decoderLayer"/> (layer <paramref name="index"/>).</summary>
    public ReftLayer(Module decoderLayer, int index)
    {
        _decoderLayer = decoderLayer ?? throw new ArgumentNullException(nameof(decoderLayer));
        LayerIndex = index;
    }

    /// <summary>The decoder layer's index.</summary>
    public int LayerIndex { get; }

    /// <summary>Adds the interventions of <paramref name="adapter"/>.</summary>
    public void AddAdapter(string adapter, ReftConfig config, int embedDim, Generator? generator)
    {
        if (_names.Contains(adapter)) throw new ArgumentException($"ReftLayer {LayerIndex}: adapter {adapter} already exists");
        var spec = ReftPositions.Parse(config.Positions);
        bool orthogonal = config is LoreftConfig;
        ReftIntervention Make() => new(embedDim, config.LowRankDimension, orthogonal, config.Dropout, config.ActFn, generator);
        Module entry = !config.ShareWeights && spec.HasBothGroups ? new ReftPair(Make(), Make()) : Make();
        entry.Train(IsTraining);
        RegisterModule(adapter, entry);
        _names.Add(adapter);
        _configs[adapter] = config;
    }

    /// <summary>The interventions of <paramref name="adapter"/>: (first-group, last-group); the same object twice when shared.</summary>
    public (ReftIntervention First, ReftIntervention Last) Interventions(string adapter) => GetChild(adapter) switch
    {
        ReftPair pair => (pair.First, pair.Last),
        ReftIntervention one => (one, one),
        var m => throw new InvalidOperationException($"ReftLayer: unexpected child {m.GetType().Name}"),
    };

    /// <inheritdoc/>
    public Module BaseLayer => _decoderLayer;

    /// <inheritdoc/>
    public IReadOnlyList<string> AdapterNames => _names;

    /// <inheritdoc/>
    public IReadOnlyList<string> ActiveAdapters
    {
        get => _active;
        set => _active = value.Where(_names.Contains).ToList();
    }

    /// <inheritdoc/>
    public bool Disabled { get; set; }

    /// <inheritdoc/>
    public IReadOnlyList<string> MergedAdapters => [];

    /// <inheritdoc/>
    public void Merge(IReadOnlyList<string> adapters, bool safeMerge) => throw NotMergeable(adapters);

    /// <inheritdoc/>
    public void CheckMergeIsFinite(IReadOnlyList<string> adapters) => throw NotMergeable(adapters);

    private NotSupportedException NotMergeable(IReadOnlyList<string> adapters) => new(
        $"Merging is not supported for {string.Join("/", adapters.Where(_configs.ContainsKey).Select(a => _configs[a].PeftType).Distinct().DefaultIfEmpty("LOREFT"))} adapters: ReFT edits hidden states at chosen prompt positions, which no change of the base weights can reproduce. Use Unload() to remove it.");

    /// <inheritdoc/>
    public void Unmerge() { }

    /// <inheritdoc/>
    public void DeleteAdapter(string adapter)
    {
        if (!_names.Remove(adapter)) return;
        _configs.Remove(adapter);
        _active.Remove(adapter);
        RemoveModule(adapter).Dispose();
    }

    /// <inheritdoc/>
    public void SetAdapterRequiresGrad(string adapter, bool requiresGrad)
    {
        foreach (var (_, p) in AdapterParameters(adapter)) p.RequiresGrad = requiresGrad;
    }

    /// <inheritdoc/>
    public IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter) =>
        _names.Contains(adapter) ? GetChild(adapter).NamedParameters().Select(np => (adapter + "." + np.Name, np.Parameter)) : [];

    /// <inheritdoc/>
    public Module ReleaseBaseLayer() =>
        throw new NotSupportedException("ReftLayer is attached beside a decoder layer and wraps nothing; remove it with RemoveSubmodule");

    /// <summary>Applies the active adapters to <paramref name="hidden"/> (B, T, C) at their prompt positions; null
    /// when nothing applies (disabled, no active adapter, or no selected position).</summary>
    public Tensor? Apply(Tensor hidden, PeftRuntime runtime)
    {
        // a mixed batch applies each row's adapter whether or not it is active (as LoRA layers do)
        var rowAdapters = runtime.SampleAdapters;
        var adapters = rowAdapters is null ? _active : rowAdapters.Distinct().Where(_names.Contains).ToList();
        if (Disabled || adapters.Count == 0) return null;
        if (hidden.Rank != 3) throw new ArgumentException($"ReFT layer {LayerIndex}: expected hidden states (B, T, C), got {hidden.Shape}");
        int b = hidden.Shape[0], t = hidden.Shape[1];
        var prompts = runtime.PromptTokens;
        if (prompts is not null && prompts.Count != b)
            throw new ArgumentException($"ReFT layer {LayerIndex}: {prompts.Count} prompt rows for a batch of {b}");
        runtime.CheckBatch(hidden, $"ReFT layer {LayerIndex}");
        Tensor current = hidden;
        try
        {
            foreach (var adapter in adapters)
            {
                var spec = ReftPositions.Parse(_configs[adapter].Positions);
                var first = new byte[b * t];
                var last = new byte[b * t];
                bool anyFirst = false, anyLast = false;
                for (int row = 0; row < b; row++)
                {
                    if (rowAdapters is not null && rowAdapters[row] != adapter) continue;
                    int[] tokens = prompts?[row] ?? Enumerable.Range(0, t).ToArray();
                    var (f, l) = spec.Select(tokens.Length);
                    foreach (int k in f) { first[row * t + tokens[k]] = 1; anyFirst = true; }
                    foreach (int k in l) { last[row * t + tokens[k]] = 1; anyLast = true; }
                }
                var (fi, li) = Interventions(adapter);
                if (ReferenceEquals(fi, li))
                {
                    for (int i = 0; i < first.Length; i++) first[i] |= last[i];
                    current = Intervene(current, hidden, fi, first, anyFirst || anyLast, b, t);
                }
                else
                {
                    current = Intervene(current, hidden, fi, first, anyFirst, b, t);
                    current = Intervene(current, hidden, li, last, anyLast, b, t);
                }
            }
            return ReferenceEquals(current, hidden) ? null : current;
        }
        catch
        {
            if (!ReferenceEquals(current, hidden)) current.Dispose();
            throw;
        }
    }

    /// <summary>Where(mask, Φ(x), x) with mask (B, T, 1); disposes <paramref name="x"/> when it is an intermediate.</summary>
    private static Tensor Intervene(Tensor x, Tensor original, ReftIntervention intervention, byte[] mask, bool any, int b, int t)
    {
        if (!any) return x;
        using var host = Tensor.FromArray(mask, b, t, 1);
        using var m = host.Device == x.Device ? host.Alias() : host.To(x.Device);
        using var phi = intervention.Forward(x);            // (B, T, C) at every position
        var y = Ops.Where(m, phi, x);                       // only the selected positions change
        if (!ReferenceEquals(x, original)) x.Dispose();
        return y;
    }
}

/// <summary>The two interventions of an adapter with unshared weights: <c>first</c> for the first positions,
/// <c>last</c> for the last.</summary>
public sealed class ReftPair : Module
{
    /// <summary>Holds both interventions.</summary>
    public ReftPair(ReftIntervention first, ReftIntervention last)
    {
        RegisterModule("first", first);
        RegisterModule("last", last);
    }

    /// <summary>The first-positions intervention.</summary>
    public ReftIntervention First => (ReftIntervention)GetChild("first");

    /// <summary>The last-positions intervention.</summary>
    public ReftIntervention Last => (ReftIntervention)GetChild("last");
}
