namespace PeftEngine.Quant;

/// <summary>
/// A frozen Linear layer whose weight is stored quantized (<see cref="Linear4Bit"/>, <see cref="GgufLinear"/>):
/// the contract an adapter (LoRA and its relatives) needs from a quantized base layer. The base never trains; an
/// adapter reads the weight by dequantizing it and merges by writing a new F32 weight back, which is quantized again.
/// </summary>
/// <remarks>PEFT: the base layers of peft.tuners.lora.bnb.Linear4bit and the other quantized-backend LoRA layers.</remarks>
public interface IQuantizedLinear
{
    /// <summary>Input features (the weight's columns).</summary>
    int InFeatures { get; }

    /// <summary>Output features (the weight's rows).</summary>
    int OutFeatures { get; }

    /// <summary>The frozen F32 bias (out), or null.</summary>
    Nn.Parameter? Bias { get; }

    /// <summary>The F32 weight (out, in) the quantized storage stands for.</summary>
    Tensor Dequantize();

    /// <summary>Replaces the stored weight by the quantization of an F32 (out, in) weight in the same format; the
    /// rounding makes merge followed by unmerge exact only up to one quantization step per weight.</summary>
    void Requantize(Tensor weight);
}
