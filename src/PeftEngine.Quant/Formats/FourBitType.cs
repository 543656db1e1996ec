namespace PeftEngine.Quant;

/// <summary>The 4-bit data types of bitsandbytes: which 16 values a 4-bit index stands for.</summary>
public enum FourBitType
{
    /// <summary>NormalFloat4 (QLoRA): the 16 quantiles of a standard normal distribution, scaled to [-1, 1],
    /// with an exact zero. Information-theoretically optimal for normally distributed weights.</summary>
    Nf4,

    /// <summary>bitsandbytes' 4-bit float: 1 sign bit, 2 exponent bits, 1 mantissa bit, normalized by 12.</summary>
    Fp4,
}
