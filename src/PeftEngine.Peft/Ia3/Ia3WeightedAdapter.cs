// Weighted combination of (IA)³ adapters into a new one (HF IA3Model.add_weighted_adapter): per target,
//
//     l_new = Σᵢ wᵢ · lᵢ        (adapters without a vector at that module contribute nothing)
//
// the new adapter targets the union of the sources' target and feed-forward modules (name lists are united, regexes
// joined as "(r₁)|(r₂)").

using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Ia3;

/// <summary>Builds a new (IA)³ adapter as a linear combination of existing ones.</summary>
/// <remarks>HF: IA3Model.add_weighted_adapter(adapters, weights, adapter_name) and _check_add_weighted_adapter.</remarks>
public static class Ia3WeightedAdapter
{
    /// <summary>Adds adapter <paramref name="adapterName"/> whose vectors are Σ wᵢ·lᵢ over <paramref name="adapters"/>.
    /// The new adapter is not activated.</summary>
    public static void AddWeightedIa3Adapter(this PeftModel model, IReadOnlyList<string> adapters, IReadOnlyList<double> weights, string adapterName)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (adapters.Count == 0 || adapters.Count != weights.Count)
            throw new ArgumentException($"add_weighted_adapter: give one weight per adapter ({adapters.Count} adapters, {weights.Count} weights)");
        var configs = adapters.Select(a => model.PeftConfigs.TryGetValue(a, out var c)
            ? c as Ia3Config ?? throw new ArgumentException($"add_weighted_adapter: adapter {a} is {c.PeftType}, not IA3")
            : throw new ArgumentException($"Adapter {a} does not exist")).ToList();
        foreach (var (_, layer) in model.TunerLayers())
            if (layer is ModulesToSaveWrapper w && adapters.Count(w.AdapterNames.Contains) > 1)
                throw new ArgumentException("Cannot add weighted adapters targeting the same module with modules_to_save.");
        if (configs.Select(c => c.TargetModules!.Names is null).Distinct().Count() > 1
            || configs.Select(c => c.FeedforwardModules!.Names is null).Distinct().Count() > 1)
            throw new ArgumentException("All adapter configs should have the same type for target and feedforward modules.");
        var config = configs[0] with
        {
            TargetModules = Union(configs.Select(c => c.TargetModules!)),
            FeedforwardModules = Union(configs.Select(c => c.FeedforwardModules!)),
        };
        model.AddAdapter(adapterName, config);
        using var _ = GradMode.Disable();
        foreach (var (_, layer) in model.TunerLayers())
        {
            if (layer is not Ia3Layer ia3 || !ia3.AdapterNames.Contains(adapterName)) continue;
            var target = ia3.Vectors[adapterName];
            Ops.FillInPlace(target, 0);
            for (int i = 0; i < adapters.Count; i++)
            {
                if (!ia3.AdapterNames.Contains(adapters[i])) continue;
                using var term = Ops.Mul(ia3.Vectors[adapters[i]], weights[i]);
                Ops.AddInPlace(target, term);
            }
        }
    }

    private static TargetModules Union(IEnumerable<TargetModules> parts)
    {
        var list = parts.ToList();
        if (list[0].Names is null) return TargetModules.Regex(string.Join("|", list.Select(t => $"({t.Pattern})")));
        return TargetModules.Of([.. list.SelectMany(t => t.Names!).Distinct()]);
    }
}
