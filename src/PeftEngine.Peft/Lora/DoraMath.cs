// DoRA: Weight-Decomposed Low-Rank Adaptation (Liu, Wang, Yin, Molchanov, Wang, Cheng, Chen; ICML 2024,
// arXiv:2402.09353). With W viewed as a matrix (out, in), ΔW = s·B·A and a trainable magnitude m ∈ R^out:
//
//     W' = diag(m / ‖W + ΔW‖_row) · (W + ΔW)
//
// The paper writes this "column-wise" because its W is (in, out). Forward, as HF computes it, with
// λ = m / stopgrad(‖W + ΔW‖_row) (the norm is detached, paper §4.3):
//
//     Linear / Conv:  y = base(x) + (λ − 1) ⊙ base_nobias(x) + λ ⊙ s·B(A(x))
//     Embedding:      y = λ ⊙ (E[x] + s·Aᵀ[x]·Bᵀ)
//
// What "out" means per layer (HF dora.py): Linear (out, in) rows; GPT-2 Conv1D (in, out) columns; an embedding
// (num, dim) is treated as fan_in_fan_out, so m has one entry per embedding dimension (the norm runs over the
// vocabulary); a convolution (O, C, k…) is flattened to (O, C·k…) and m is stored (1, O, 1…) so that it
// broadcasts over (N, O, …) outputs.
//
// At initialisation m = ‖W + ΔW‖_row, so λ = 1 and the layer equals plain LoRA (the base model when B = 0).
// Merging stores n = ‖W + ΔW‖_row (it cannot be recomputed from the merged weight) so unmerging can divide it out.

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Lora;

/// <summary>The DoRA parts of a LoRA layer: magnitude initialisation, the row norm, merge and unmerge.</summary>
/// <remarks>HF: peft.tuners.lora.dora.DoraLinearLayer / DoraEmbeddingLayer / _DoraConvNdLayer (get_weight_norm,
/// update_layer, forward) and the DoRA branches of the LoRA layers' merge / unmerge.</remarks>
internal static class DoraMath
{
    /// <summary>A weight in its stored layout seen as the matrix (out, in): transposed when the output dimension is
    /// 1 (Conv1D, Embedding), flattened to (O, C·k…) for a convolution kernel.</summary>
    public static Tensor AsOutIn(LoraLayer layer, Tensor w)
    {
        if (layer.OutputDim == 1) return Ops.Transpose(w, 0, 1);               // (in, out) -> (out, in)
        if (w.Rank == 2) return w.Alias();
        return Ops.Reshape(w, w.Shape[0], (int)(w.Numel / w.Shape[0]));         // (O, C, k…) -> (O, C·k…)
    }

    /// <summary>‖W + s·B·A‖ per output row, F32 (out), without gradient.</summary>
    public static Tensor WeightNorm(LoraLayer layer, string adapter)
    {
        using var _ = GradMode.Disable();
        using var w = layer.BaseWeightOutIn();                         // (out, in)
        using var delta = layer.DeltaWeight(adapter);                  // base layout, scaled
        using var deltaOutIn = AsOutIn(layer, delta);
        using var sum = Ops.Add(w, deltaOutIn);
        return Ops.Norm(sum, 2, 1);                                    // (out, in) -> (out)
    }

    /// <summary>The magnitude vector of a new adapter: the current row norm, in HF's shape for the layer type —
    /// (out) for Linear, Conv1D and Embedding, (1, O, 1…) for a convolution.</summary>
    public static Tensor InitialMagnitude(LoraLayer layer, string adapter)
    {
        using var norm = WeightNorm(layer, adapter);
        using var _ = GradMode.Disable();
        return Ops.Reshape(norm, MagnitudeShape(layer, (int)norm.Numel));
    }

    /// <summary>HF's shape of <c>lora_magnitude_vector</c> for <paramref name="layer"/> with <paramref name="outputs"/> outputs.</summary>
    public static int[] MagnitudeShape(LoraLayer layer, int outputs) => layer is LoraConv ? ChannelShape(layer, outputs) : [outputs];

    // (1, O, 1…) with the rank of the convolution kernel, which is also the rank of its input and output
    private static int[] ChannelShape(LoraLayer layer, int outputs)
    {
        var shape = Enumerable.Repeat(1, layer.WeightRank).ToArray();
        shape[1] = outputs;
        return shape;
    }

    /// <summary>The magnitude as a flat (out) tensor, keeping its gradient.</summary>
    private static Tensor FlatMagnitude(LoraLayer layer, string adapter)
    {
        var m = layer.MagnitudeVector[adapter].Weight;
        return Ops.Reshape(m, (int)m.Numel);                           // (1, O, 1…) or (out) -> (out)
    }

    /// <summary>λ = m / stopgrad(‖W + ΔW‖_row), (out), with gradient to m only.</summary>
    public static Tensor Lambda(LoraLayer layer, string adapter)
    {
        using var norm = WeightNorm(layer, adapter);                   // (out), detached
        using var m = FlatMagnitude(layer, adapter);
        return Ops.Div(m, norm);
    }

    /// <summary>Scales <paramref name="sum"/> = W + ΔW (F32, base layout) row-wise by m / ‖W + ΔW‖; returns the
    /// scaled weight and the norm used.</summary>
    public static (Tensor Scaled, Tensor Norm) MergeRows(LoraLayer layer, Tensor sum, string adapter)
    {
        using var outIn = AsOutIn(layer, sum);
        var norm = Ops.Norm(outIn, 2, 1);                              // (out)
        using var m = FlatMagnitude(layer, adapter);
        using var factor = Ops.Div(m, norm);
        using var shaped = Broadcastable(layer, factor);
        return (Ops.Mul(sum, shaped), norm);
    }

    /// <summary>Divides the merged weight by the factor m / n of the merge.</summary>
    public static Tensor UnmergeRows(LoraLayer layer, Tensor merged, string adapter, Tensor norm)
    {
        using var m = FlatMagnitude(layer, adapter);
        using var factor = Ops.Div(m, norm);
        using var shaped = Broadcastable(layer, factor);
        return Ops.Div(merged, shaped);
    }

    // (out) -> the base weight's rank with out along the output dimension: (out, 1), (1, out) or (O, 1, 1…)
    private static Tensor Broadcastable(LoraLayer layer, Tensor perOutput)
    {
        var shape = Enumerable.Repeat(1, layer.WeightRank).ToArray();
        shape[layer.OutputDim] = perOutput.Shape[0];
        return Ops.View(perOutput, shape);
    }

    /// <summary>The DoRA output of one adapter of a Linear / Conv1D / convolution layer added to
    /// <paramref name="result"/> = base(x). <paramref name="baseWithoutBias"/> recomputes the base product (no bias)
    /// on the dropped-out input when dropout is active; otherwise it is <paramref name="result"/> minus the bias.</summary>
    public static Tensor Forward(LoraLayer layer, Tensor x, Tensor result, string adapter, Func<Tensor, Tensor> loraBranch,
        Func<Tensor, Tensor> baseWithoutBias, Parameter? baseBias)
    {
        var dropout = layer.LoraDropout[adapter];
        using var xf = MaybeOwned.Cast(x, DType.F32);
        using var dropped = dropout.Forward(xf.Value);
        using var flat = Lambda(layer, adapter);                                  // (out)
        bool conv = layer is LoraConv;
        using var channels = conv ? Ops.Reshape(flat, ChannelShape(layer, (int)flat.Numel)) : null;      // (1, O, 1…) for (N, O, …) outputs
        var lambda = channels ?? flat;
        Tensor baseNoBias;
        if (dropout.P == 0 || !layer.IsTraining)
        {
            if (baseBias is null) baseNoBias = Ops.Mul(result, 1.0);
            else
            {
                using var bias = MaybeOwned.Cast(baseBias.Data, result.DType);
                using var shaped = conv ? Ops.View(bias.Value, ChannelShape(layer, (int)bias.Value.Numel)) : bias.Value.Alias();
                baseNoBias = Ops.Sub(result, shaped);
            }
        }
        else baseNoBias = baseWithoutBias(dropped);
        using (baseNoBias)
        using (var lora = loraBranch(dropped))                                    // s·B(A(x)), (..., out) or (N, O, …)
        using (var lambdaMinusOne = Ops.Add(lambda, -1.0))
        using (var t1 = Ops.Mul(baseNoBias, lambdaMinusOne))
        using (var t2 = Ops.Mul(lora, lambda))
        using (var both = Ops.Add(t1, t2))
        using (var cast = MaybeOwned.Cast(both, result.DType))
            return Ops.Add(result, cast.Value);
    }
}
