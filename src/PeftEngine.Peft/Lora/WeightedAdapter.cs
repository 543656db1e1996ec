// Weighted combination of LoRA adapters into a new adapter (HF add_weighted_adapter). With weights wᵢ and scalings sᵢ:
//
//   "cat":    A = [w₁s₁A₁; w₂s₂A₂; …] (ranks stacked), B = [B₁ B₂ …]  =>  ΔW = Σ wᵢ sᵢ Bᵢ Aᵢ exactly (rank Σ rᵢ)
//   "linear": A = Σ sign(wᵢsᵢ)·√|wᵢsᵢ|·Aᵢ,  B = Σ √|wᵢsᵢ|·Bᵢ  (equal ranks; ΔW = Σ wᵢsᵢBᵢAᵢ plus cross terms)
//
// The new adapter has scaling 1 (lora_alpha = r, no rsLoRA), so its ΔW is B·A.

using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Lora;

/// <summary>Builds a new LoRA adapter from a weighted combination of existing ones ("linear" or "cat"; "svd" needs a
/// thin SVD and is not offered yet).</summary>
/// <remarks>HF: LoraModel.add_weighted_adapter(adapters, weights, adapter_name, combination_type).</remarks>
public static class WeightedAdapter
{
    /// <summary>Adds adapter <paramref name="adapterName"/> = the combination of <paramref name="adapters"/> with
    /// <paramref name="weights"/> (negative weights allowed). The new adapter is not activated.</summary>
    public static void AddWeightedAdapter(this PeftModel model, IReadOnlyList<string> adapters, IReadOnlyList<double> weights,
        string adapterName, string combinationType = "cat")
    {
        ArgumentNullException.ThrowIfNull(model);
        if (adapters.Count == 0 || adapters.Count != weights.Count)
            throw new ArgumentException($"add_weighted_adapter: give one weight per adapter ({adapters.Count} adapters, {weights.Count} weights)");
        var configs = adapters.Select(a => model.PeftConfigs.TryGetValue(a, out var c)
            ? c as LoraConfig ?? throw new ArgumentException($"add_weighted_adapter: adapter {a} is {c.PeftType}, not LORA")
            : throw new ArgumentException($"Adapter {a} does not exist")).ToList();
        if (configs.Any(c => c.UseDora)) throw new NotSupportedException("add_weighted_adapter: DoRA adapters cannot be combined");
        if (configs.Any(c => c.ModulesToSave is { Length: > 0 }))
            throw new NotSupportedException("add_weighted_adapter: adapters with modules_to_save cannot be combined");
        var layers = model.TunerLayers().Where(l => l.Layer is LoraLayer ll && adapters.Any(ll.AdapterNames.Contains))
            .Select(l => (l.Path, Layer: (LoraLayer)l.Layer)).ToList();
        int newRank;
        switch (combinationType)
        {
            case "linear":
                var ranks = layers.SelectMany(l => adapters.Where(l.Layer.AdapterNames.Contains).Select(a => l.Layer.Rank[a])).Distinct().ToList();
                if (ranks.Count != 1) throw new ArgumentException("All adapters must have the same r value when using combination_type linear.");
                newRank = ranks[0];
                break;
            case "cat":
                newRank = layers.Max(l => adapters.Where(l.Layer.AdapterNames.Contains).Sum(a => l.Layer.Rank[a]));
                break;
            case "svd":
                throw new NotSupportedException("add_weighted_adapter: combination_type \"svd\" needs a thin SVD, which is not available yet; use \"cat\" (exact) or \"linear\"");
            default:
                throw new ArgumentException($"add_weighted_adapter: combination_type must be \"linear\" or \"cat\", got \"{combinationType}\"");
        }
        var config = configs[0] with
        {
            R = newRank, LoraAlpha = newRank, UseRslora = false,
            RankPattern = new Dictionary<string, int>(), AlphaPattern = new Dictionary<string, double>(),
            TargetModules = TargetModules.Of([.. layers.Select(l => l.Path)]),
            LayersToTransform = null, LayersPattern = null, ExcludeModules = null, LoraDropout = configs[0].LoraDropout,
        };
        model.AddAdapter(adapterName, config);
        using var _ = GradMode.Disable();
        foreach (var (_, layer) in layers)
        {
            var (ta, tb) = layer.Factors(adapterName);
            Ops.FillInPlace(ta, 0);
            Ops.FillInPlace(tb, 0);
            int offset = 0;
            for (int i = 0; i < adapters.Count; i++)
            {
                string a = adapters[i];
                if (!layer.AdapterNames.Contains(a)) continue;
                var (sa, sb) = layer.Factors(a);
                double ws = weights[i] * layer.Scaling[a];
                if (combinationType == "cat")
                {
                    int r = layer.Rank[a];
                    using var dstA = Ops.Narrow(ta, 0, offset, r);
                    using var srcA = Ops.Mul(sa, ws);
                    Ops.CopyInPlace(dstA, srcA);
                    using var dstB = Ops.Narrow(tb, 1, offset, r);
                    Ops.CopyInPlace(dstB, sb);
                    offset += r;
                }
                else
                {
                    double root = Math.Sqrt(Math.Abs(ws));
                    using var addA = Ops.Mul(sa, Math.Sign(ws) * root);
                    Ops.AddInPlace(ta, addA);
                    using var addB = Ops.Mul(sb, root);
                    Ops.AddInPlace(tb, addB);
                }
            }
        }
    }
}
