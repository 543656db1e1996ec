using PeftEngine.IO.Gguf;
using PeftEngine.Nn;

namespace PeftEngine.Quant;

/// <summary>
/// A frozen Linear layer that keeps its weight in the packed ggml blocks of a GGUF file (Q8_0, Q4_0 or Q4_K) and
/// computes on them directly: y = x · Wᵀ + b in F32 (<see cref="GgufLinearOp"/>). It holds the block bytes only
/// (Q4_0: 0.5625 bytes per weight, Q4_K: 0.5625, Q8_0: 1.0625), never an F32 copy, and gives the input gradient
/// so that adapters can train on top of it.
/// </summary>
/// <remarks>llama.cpp: a quantized weight used by ggml_mul_mat in llm_build_lora_mm; PyTorch has no packed GGUF
/// layer (transformers dequantizes GGUF files on load).</remarks>
public sealed class GgufLinear : Module, IQuantizedLinear
{
    /// <summary>Takes ownership of <paramref name="weight"/> (out, in) and copies an optional bias (out).</summary>
    public GgufLinear(GgmlPackedWeight weight, Tensor? bias = null)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != weight.Rows))
            throw new ArgumentException($"GgufLinear: the bias must have shape ({weight.Rows},), got {bias.Shape}");
        Weight = weight;
        Tensor? b = null;
        if (bias is not null)
            using (GradMode.Disable()) b = bias.DType == DType.F32 ? Ops.Clone(bias) : bias.To(DType.F32);
        RegisterParameter("bias", b is null ? null : new Parameter(b, requiresGrad: false));
    }

    /// <summary>Quantizes a Linear layer's weight with ggml's reference quantizer (Q8_0 or Q4_0) and copies its bias.</summary>
    public static GgufLinear FromLinear(Linear linear, GgmlType type)
    {
        ArgumentNullException.ThrowIfNull(linear);
        using var w = linear.Weight.Data.DType == DType.F32 ? linear.Weight.Data.Alias() : linear.Weight.Data.To(DType.F32);
        return new GgufLinear(GgmlPackedWeight.Quantize(w, type), linear.Bias?.Data);
    }

    /// <summary>The packed weight (out, in).</summary>
    public GgmlPackedWeight Weight { get; private set; }

    /// <summary>The ggml block type of the weight.</summary>
    public GgmlType Type => Weight.Type;

    /// <inheritdoc/>
    public int InFeatures => Weight.Cols;

    /// <inheritdoc/>
    public int OutFeatures => Weight.Rows;

    /// <inheritdoc/>
    public Parameter? Bias => GetParameter("bias");

    /// <summary>(…, in) -> (…, out), in F32.</summary>
    public override Tensor Forward(Tensor x) => GgufLinearOp.Forward(x, Weight, Bias?.Data);

    /// <inheritdoc/>
    public Tensor Dequantize() => Weight.Dequantize();

    /// <summary>
    /// Replaces the packed weight by ggml's reference quantization of <paramref name="weight"/> (out, in) in the same
    /// block type. This is how an adapter is merged into a packed base: each weight is rounded to its block's grid
    /// again, so it can move by up to half a quantization step (d / 2 for Q8_0 and Q4_0), and unmerging does not give
    /// the original blocks back. Q4_K cannot be re-quantized (its scale search has no simple reference form): merging
    /// into a Q4_K base throws; dequantize the model first.
    /// </summary>
    public void Requantize(Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2 || weight.Shape[0] != OutFeatures || weight.Shape[1] != InFeatures)
            throw new ArgumentException($"GgufLinear.Requantize: expected a ({OutFeatures}, {InFeatures}) weight, got {weight.Shape}");
        if (Type is not (GgmlType.Q8_0 or GgmlType.Q4_0))
            throw new NotSupportedException($"GgufLinear.Requantize: cannot merge into a packed {Type} weight (only Q8_0 and Q4_0 can be re-quantized); load the model dequantized to merge");
        var next = GgmlPackedWeight.Quantize(weight, Type);
        Weight.Dispose();
        Weight = next;
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"in_features={InFeatures}, out_features={OutFeatures}, bias={Bias is not null}, type={Type}, bytes={Weight.ByteCount}";

    /// <inheritdoc/>
    protected override void DisposeExtra() => Weight.Dispose();

    /// <summary>Refuses a move off the host: the packed ggml blocks are multiplied by CPU code (int8 dot products),
    /// and no backend has kernels for them.</summary>
    protected override void MoveExtra(Device device)
    {
        if (!device.IsHost)
            throw new NotSupportedException(
                $"GgufLinear: packed {Type} weights compute on the CPU only and cannot move to {device}; " +
                "load the GGUF model dequantized (LlamaModel.FromGguf) to run it on a GPU");
    }
}
