namespace PeftEngine.Quant;

/// <summary>How a dequantized GPTQ/AWQ weight is laid out for the module that receives it.</summary>
/// <remarks>PyTorch: nn.Linear.weight is (out, in); transformers' GPT-2 Conv1D.weight is (in, out). Both formats
/// pack the matrix as W (in, out), the operand of <c>y = x @ W</c>.</remarks>
public enum DequantizedLayout
{
    /// <summary>(out, in): an nn.Linear weight.</summary>
    OutIn,

    /// <summary>(in, out): a GPT-2 Conv1D weight, the packed matrix as it is.</summary>
    InOut,
}
