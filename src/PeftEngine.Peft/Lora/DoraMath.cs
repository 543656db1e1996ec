// DoRA: Weight-Decomposed Low-Rank Adaptation (Liu, Wang, Yin, Molchanov, Wang, Cheng, Chen; ICML 2024,
// arXiv:2402.09353). With W (out, in), ΔW = s·B·A and a trainable magnitude m ∈ R^out:
//
//     W' = diag(m / ‖W + ΔW‖_row) · (W + ΔW)
//
// The paper writes this "column-wise" because its W is (in, out). Forward, as HF computes it, with
// λ = m / stopgrad(‖W + ΔW‖_row) (the norm is detached, paper §4.3):
//
//     y = base(x) + (λ − 1) ⊙ (x·Wᵀ) + λ ⊙ s·B(A(x))
//
// At initialisation m = ‖W + ΔW‖_row, so λ = 1 and the layer equals plain LoRA (the base model when B = 0).
// Merging stores n = ‖W + ΔW‖_row (it cannot be recomputed from the merged weight) so unmerging can divide it out.

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Lora;

/// <summary>The DoRA parts of a LoRA layer: magnitude initialisation, the row norm, merge and unmerge.</summary>
/// <remarks>HF: peft.tuners.lora.dora.DoraLinearLayer (get_weight_norm, update_layer, forward) and the DoRA branches
/// of lora.Linear.merge / unmerge.</remarks>
internal static class DoraMath
{
    /// <summary>‖W + s·B·A‖ per output row, F32 (out), without gradient.</summary>
    public static Tensor WeightNorm(LoraLayer layer, string adapter)
    {
        using var _ = GradMode.Disable();
        using var w = layer.BaseWeightOutIn();                         // (out, in)
        using var delta = layer.DeltaWeight(adapter);                  // base layout, scaled
        using var deltaOutIn = layer.OutputDim == 0 ? delta.Alias() : Ops.Transpose(delta, 0, 1);
        using var sum = Ops.Add(w, deltaOutIn);
        return Ops.Norm(sum, 2, 1);                                    // (out, in) -> (out)
    }

    /// <summary>The magnitude vector of a new adapter: the current row norm.</summary>
    public static Tensor InitialMagnitude(LoraLayer layer, string adapter) => WeightNorm(layer, adapter);

    /// <summary>Scales <paramref name="sum"/> = W + ΔW (F32, base layout) row-wise by m / ‖W + ΔW‖; returns the
    /// scaled weight and the norm used.</summary>
    public static (Tensor Scaled, Tensor Norm) MergeRows(LoraLayer layer, Tensor sum, string adapter)
    {
        int inputDim = 1 - layer.OutputDim;
        var norm = Ops.Norm(sum, 2, inputDim);                         // (out)
        using var factor = Ops.Div(layer.MagnitudeVector[adapter].Weight, norm);
        using var shaped = Broadcastable(layer, factor);
        return (Ops.Mul(sum, shaped), norm);
    }

    /// <summary>Divides the merged weight by the factor m / n of the merge.</summary>
    public static Tensor UnmergeRows(LoraLayer layer, Tensor merged, string adapter, Tensor norm)
    {
        using var factor = Ops.Div(layer.MagnitudeVector[adapter].Weight, norm);
        using var shaped = Broadcastable(layer, factor);
        return Ops.Div(merged, shaped);
    }

    private static Tensor Broadcastable(LoraLayer layer, Tensor perOutput) =>
        layer.OutputDim == 0 ? Ops.View(perOutput, perOutput.Shape[0], 1)      // (out) -> (out, 1)
                             : Ops.View(perOutput, 1, perOutput.Shape[0]);     // (out) -> (1, out)

    /// <summary>The DoRA output of one adapter added to <paramref name="result"/> = base(x).</summary>
    public static Tensor Forward(LoraLayer layer, Tensor x, Tensor result, string adapter, Func<Tensor, Tensor> loraBranch, Parameter? baseBias)
    {
        var dropout = layer.LoraDropout[adapter];
        using var xf = MaybeOwned.Cast(x, DType.F32);
        using var dropped = dropout.Forward(xf.Value);
        using var norm = WeightNorm(layer, adapter);                              // (out), detached
        using var lambda = Ops.Div(layer.MagnitudeVector[adapter].Weight, norm);  // (out)
        Tensor baseNoBias;
        if (dropout.P == 0 || !layer.IsTraining)
        {
            if (baseBias is null) baseNoBias = Ops.Mul(result, 1.0);
            else
                using (var bias = MaybeOwned.Cast(baseBias.Data, result.DType)) baseNoBias = Ops.Sub(result, bias.Value);
        }
        else
            using (var w = layer.BaseWeightOutIn()) baseNoBias = Ops.Linear(dropped, w);
        using (baseNoBias)
        using (var lora = loraBranch(dropped))                                    // s·B(A(x)), (..., out)
        using (var lambdaMinusOne = Ops.Add(lambda, -1.0))
        using (var t1 = Ops.Mul(baseNoBias, lambdaMinusOne))
        using (var t2 = Ops.Mul(lora, lambda))
        using (var both = Ops.Add(t1, t2))
        using (var cast = MaybeOwned.Cast(both, result.DType))
            return Ops.Add(result, cast.Value);
    }
}
