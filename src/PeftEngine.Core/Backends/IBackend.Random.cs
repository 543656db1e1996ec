namespace PeftEngine;

/// <summary>The distributions <see cref="IBackend.FillRandom"/> draws from, with the meaning of its two parameters.</summary>
public enum RandomDistribution
{
    /// <summary>Uniform on [a, b).</summary>
    Uniform,
    /// <summary>Normal with mean a and standard deviation b (Box–Muller).</summary>
    Normal,
    /// <summary>Standard normal restricted to [a, b] (inversion of the CDF).</summary>
    TruncatedNormal,
    /// <summary>b with probability a, else 0 (an integer threshold on 24 random bits).</summary>
    Bernoulli,
    /// <summary>Integers uniform on [a, b) from 64 random bits (a and b are whole numbers).</summary>
    Integer,
}

public partial interface IBackend
{
    /// <summary>
    /// Fills the contiguous <paramref name="dst"/> with random numbers from the Philox stream of
    /// <paramref name="seed"/> starting at block <paramref name="offset"/>. Element i (row-major) is computed from
    /// the stream's words as defined by <see cref="RandomSampling"/> (word k is word k % 4 of block offset + k / 4),
    /// so the values depend only on (seed, offset, i) and every backend and thread count gives the same bits.
    /// dtypes: F32/F64 for the real distributions; F32/F64/U8 for Bernoulli; I32/I64 for Integer.
    /// </summary>
    void FillRandom(Tensor dst, RandomDistribution distribution, ulong seed, ulong offset, double a, double b);
}
