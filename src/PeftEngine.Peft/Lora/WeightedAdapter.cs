// Weighted combination of LoRA adapters into a new adapter (HF add_weighted_adapter). With weights wᵢ and scalings sᵢ:
//
//   "cat":    A = [w₁s₁A₁; w₂s₂A₂; …] (ranks stacked), B = [B₁ B₂ …]  =>  ΔW = Σ wᵢ sᵢ Bᵢ Aᵢ exactly (rank Σ rᵢ)
//   "linear": A = Σ sign(wᵢsᵢ)·√|wᵢsᵢ|·Aᵢ,  B = Σ √|wᵢsᵢ|·Bᵢ  (equal ranks; ΔW = Σ wᵢsᵢBᵢAᵢ plus cross terms)
//   "svd":    M = Σ wᵢsᵢBᵢAᵢ = U·diag(S)·Vᵀ,  B = U_k·diag(S_k), A = V_kᵀ  (k = new rank: the best rank-k
//             approximation of M, Eckart–Young); with svd_clamp = q every entry of A and B is clipped to ±(the
//             q-quantile of all their entries).
//
// The new adapter has scaling 1 (lora_alpha = r, no rsLoRA), so its ΔW is B·A. (HF's svd path multiplies by sᵢ
// twice, once in get_delta_weight and once in the weights; here each source counts with wᵢsᵢ, as in "cat", so the
// combination equals Σ wᵢ·ΔWᵢ. The two agree whenever lora_alpha = r.)

using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Lora;

/// <summary>Builds a new LoRA adapter from a weighted combination of existing ones ("linear", "cat" or "svd"); for
/// (IA)³ adapters the combination is the weighted sum of their vectors (<see cref="Ia3.Ia3WeightedAdapter"/>).</summary>
/// <remarks>HF: LoraModel.add_weighted_adapter(adapters, weights, adapter_name, combination_type, svd_rank,
/// svd_clamp) and IA3Model.add_weighted_adapter.</remarks>
public static class WeightedAdapter
{
    /// <summary>Adds adapter <paramref name="adapterName"/> = the combination of <paramref name="adapters"/> with
    /// <paramref name="weights"/> (negative weights allowed). The new adapter is not activated. For "svd" the new rank
    /// is <paramref name="svdRank"/> (default: the largest source rank) and <paramref name="svdClamp"/> (default
    /// none, as in HF) clips the factors at that quantile of their entries.</summary>
    public static void AddWeightedAdapter(this PeftModel model, IReadOnlyList<string> adapters, IReadOnlyList<double> weights,
        string adapterName, string combinationType = "cat", int? svdRank = null, double? svdClamp = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (adapters.Count > 0 && model.PeftConfigs.TryGetValue(adapters[0], out var first) && first is Ia3.Ia3Config)
        {
            Ia3.Ia3WeightedAdapter.AddWeightedIa3Adapter(model, adapters, weights, adapterName);
            return;
        }
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
                if (layers.Any(l => l.Layer is LoraConv))
                    throw new NotSupportedException("add_weighted_adapter: combination_type \"svd\" is implemented for Linear, Conv1D and Embedding LoRA layers, not convolutions");
                if (svdClamp is double q && !(q >= 0 && q <= 1)) throw new ArgumentException($"add_weighted_adapter: svd_clamp must lie in [0, 1], got {q}");
                newRank = svdRank ?? layers.Max(l => adapters.Where(l.Layer.AdapterNames.Contains).Max(a => l.Layer.Rank[a]));
                if (newRank <= 0) throw new ArgumentException($"add_weighted_adapter: svd_rank must be positive, got {newRank}");
                break;
            default:
                throw new ArgumentException($"add_weighted_adapter: combination_type must be \"linear\", \"cat\" or \"svd\", got \"{combinationType}\"");
        }
        var config = configs[0] with
        {
            R = newRank, LoraAlpha = newRank, UseRslora = false, InitLoraWeights = LoraInit.Default, PissaNiter = null,
            RankPattern = new Dictionary<string, int>(), AlphaPattern = new Dictionary<string, double>(),
            TargetModules = TargetModules.Of([.. layers.Select(l => l.Path)]),
            LayersToTransform = null, LayersPattern = null, ExcludeModules = null, LoraDropout = configs[0].LoraDropout,
        };
        model.AddAdapter(adapterName, config);
        using var _ = GradMode.Disable();
        foreach (var (_, layer) in layers)
        {
            if (combinationType == "svd")
            {
                SvdCombine(layer, adapters, weights, adapterName, newRank, svdClamp);
                continue;
            }
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

    /// <summary>Sets the factors of <paramref name="adapterName"/> in <paramref name="layer"/> to the rank-k SVD
    /// truncation of M = Σ wᵢsᵢBᵢAᵢ (out, in).</summary>
    private static void SvdCombine(LoraLayer layer, IReadOnlyList<string> adapters, IReadOnlyList<double> weights,
        string adapterName, int rank, double? clamp)
    {
        var (ta, tb) = layer.Factors(adapterName);                     // (k, in), (out, k)
        var m = Tensor.Zeros(new Shape(tb.Shape[0], ta.Shape[1]), DType.F64);
        using (m)
        {
            for (int i = 0; i < adapters.Count; i++)
            {
                if (!layer.AdapterNames.Contains(adapters[i])) continue;
                var (sa, sb) = layer.Factors(adapters[i]);
                using var a64 = Ops.Cast(sa, DType.F64);
                using var b64 = Ops.Cast(sb, DType.F64);
                using var ba = Ops.MatMul(b64, a64);                    // (out, r) · (r, in) -> (out, in)
                using var term = Ops.Mul(ba, weights[i] * layer.Scaling[adapters[i]]);
                Ops.AddInPlace(m, term);
            }
            using var svd = Linalg.Svd(m);                              // U (out, p), S (p), Vh (p, in), p = min(out, in)
            int k = Math.Min(rank, svd.S.Shape[0]);
            using var u = Ops.Narrow(svd.U, 1, 0, k);                   // (out, k)
            using var s = Ops.Narrow(svd.S, 0, 0, k);
            using var sRow = Ops.Unsqueeze(s, 0);                       // (k) -> (1, k)
            using var us = Ops.Mul(u, sRow);                            // U_k · diag(S_k)
            using var vh = Ops.Narrow(svd.Vh, 0, 0, k);                 // (k, in)
            var bNew = Ops.Contiguous(us);
            var aNew = Ops.Contiguous(vh);
            using (bNew)
            using (aNew)
            {
                if (clamp is double q)
                {
                    double hi = Quantile([.. bNew.ToDoubleArray(), .. aNew.ToDoubleArray()], q);
                    ClampInPlace(bNew, -hi, hi);
                    ClampInPlace(aNew, -hi, hi);
                }
                Ops.FillInPlace(ta, 0);
                Ops.FillInPlace(tb, 0);
                using var dstA = Ops.Narrow(ta, 0, 0, k);
                using var castA = Ops.Cast(aNew, ta.DType);
                Ops.CopyInPlace(dstA, castA);
                using var dstB = Ops.Narrow(tb, 1, 0, k);
                using var castB = Ops.Cast(bNew, tb.DType);
                Ops.CopyInPlace(dstB, castB);
            }
        }
    }

    /// <summary>The q-quantile with linear interpolation between order statistics (torch.quantile's default).</summary>
    internal static double Quantile(double[] values, double q)
    {
        var sorted = values.Order().ToArray();
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    private static void ClampInPlace(Tensor t, double lo, double hi)
    {
        var v = t.ToDoubleArray().Select(x => Math.Clamp(x, Math.Min(lo, hi), Math.Max(lo, hi))).ToArray();
        using var c = Tensor.FromArray(v, t.Shape.ToArray());
        Ops.CopyInPlace(t, c);
    }
}
