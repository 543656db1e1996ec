using PeftEngine.Nn;

namespace PeftEngine.Quant;

/// <summary>
/// A Linear layer whose weight is frozen in blockwise 4-bit form (NF4 or FP4, optionally with double-quantized
/// scales): y = x · dequant(W)ᵀ + b, computed in F32 straight from the 4-bit storage. This is QLoRA's base layer:
/// it never trains, and adapters (LoRA and its relatives) are added beside it.
/// </summary>
/// <remarks>bitsandbytes: bnb.nn.Linear4bit with compute_dtype float32. The bias stays in F32 and is frozen too.</remarks>
public sealed class Linear4Bit : Module, IQuantizedLinear
{
    /// <summary>Wraps an already quantized weight (out, in) and a copy of an optional bias (out).</summary>
    public Linear4Bit(PackedWeight4Bit weight, Tensor? bias, FourBitType quantType)
    {
        ArgumentNullException.ThrowIfNull(weight);
        Weight4Bit = weight;
        QuantType = quantType;
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != weight.Rows))
            throw new ArgumentException($"Linear4Bit: the bias must have shape ({weight.Rows},), got {bias.Shape}");
        Tensor? b = null;
        if (bias is not null)
            using (GradMode.Disable()) b = bias.DType == DType.F32 ? Ops.Clone(bias) : bias.To(DType.F32);   // a leaf copy
        RegisterParameter("bias", b is null ? null : new Parameter(b, requiresGrad: false));
    }

    /// <summary>Quantizes a Linear layer's weight (out, in) and copies its bias.</summary>
    public static Linear4Bit FromLinear(Linear linear, FourBitType quantType = FourBitType.Nf4, int blockSize = 64, bool doubleQuant = false)
    {
        ArgumentNullException.ThrowIfNull(linear);
        var packed = Blockwise4Bit.Quantize(linear.Weight.Data, quantType, blockSize, doubleQuant);
        return new Linear4Bit(packed, linear.Bias?.Data, quantType);
    }

    /// <summary>Quantizes a GPT-2 Conv1D layer: its weight is stored (in, out), so it is transposed to (out, in) first,
    /// as transformers does before handing it to bitsandbytes.</summary>
    public static Linear4Bit FromConv1D(Conv1D conv, FourBitType quantType = FourBitType.Nf4, int blockSize = 64, bool doubleQuant = false)
    {
        ArgumentNullException.ThrowIfNull(conv);
        using var transposed = Ops.Transpose(conv.Weight.Data, 0, 1);   // (in, out) -> (out, in)
        var packed = Blockwise4Bit.Quantize(transposed, quantType, blockSize, doubleQuant);
        return new Linear4Bit(packed, conv.Bias.Data, quantType);
    }

    /// <summary>The frozen 4-bit weight (out, in).</summary>
    public PackedWeight4Bit Weight4Bit { get; private set; }

    /// <summary>NF4 or FP4.</summary>
    public FourBitType QuantType { get; }

    /// <summary>Input features (the weight's columns).</summary>
    public int InFeatures => Weight4Bit.Cols;

    /// <summary>Output features (the weight's rows).</summary>
    public int OutFeatures => Weight4Bit.Rows;

    /// <summary>The frozen F32 bias (out), or null.</summary>
    public Parameter? Bias => GetParameter("bias");

    /// <summary>(…, in) -> (…, out), in F32.</summary>
    public override Tensor Forward(Tensor x) => Ops.Linear4Bit(x, Weight4Bit, Bias?.Data);

    /// <summary>The F32 weight (out, in) the 4-bit storage stands for (for merging adapters or exporting).</summary>
    public Tensor Dequantize() => Ops.Dequantize4Bit(Weight4Bit);

    /// <summary>
    /// Replaces the 4-bit weight by the quantization of <paramref name="weight"/> (out, in), with the same 4-bit
    /// type, block size and double quantization. Used to merge an adapter into a 4-bit base: the merged weight is
    /// rounded to the codebook again, so merging and unmerging are exact only up to that rounding (each weight can
    /// move by up to half a code step of its block, as in bitsandbytes' merge of LoRA into Linear4bit).
    /// </summary>
    public void Requantize(Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2 || weight.Shape[0] != OutFeatures || weight.Shape[1] != InFeatures)
            throw new ArgumentException($"Linear4Bit.Requantize: expected a ({OutFeatures}, {InFeatures}) weight, got {weight.Shape}");
        var next = Blockwise4Bit.Quantize(weight, QuantType, Weight4Bit.BlockSize, Weight4Bit.IsDoubleQuantized);
        Weight4Bit.Dispose();
        Weight4Bit = next;
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"in_features={InFeatures}, out_features={OutFeatures}, bias={Bias is not null}, quant_type={QuantType.ToString().ToLowerInvariant()}, " +
        $"blocksize={Weight4Bit.BlockSize}, double_quant={Weight4Bit.IsDoubleQuantized}";

    /// <inheritdoc/>
    protected override void DisposeExtra() => Weight4Bit.Dispose();

    /// <summary>Moves the packed weight with the module (<see cref="Module.To(Device)"/>), so the 4-bit kernels of
    /// the device's backend read it there.</summary>
    protected override void MoveExtra(Device device)
    {
        if (Weight4Bit.Device == device) return;
        var moved = Weight4Bit.To(device);
        Weight4Bit.Dispose();
        Weight4Bit = moved;
    }
}
