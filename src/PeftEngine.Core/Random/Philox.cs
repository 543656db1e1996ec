using System.Runtime.CompilerServices;

namespace PeftEngine;

/// <summary>
/// Philox4x32-10, a counter-based random number generator: a keyed bijection that turns a 128-bit counter
/// into 128 random-looking bits (four 32-bit words). Block n of a stream is Philox(key, n), so any block can
/// be computed without computing the ones before it: threads (or GPU lanes) each compute their own blocks and
/// the result does not depend on how the work was split.
/// </summary>
/// <remarks>
/// PyTorch: the CUDA generator (at::Philox4_32). Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"
/// (SC 2011). One round maps (c0, c1, c2, c3) with the key (k0, k1) to
/// <code>
///   (hi(M1·c2) ^ c1 ^ k0,  lo(M1·c2),  hi(M0·c0) ^ c3 ^ k1,  lo(M0·c0))
/// </code>
/// where hi/lo are the upper/lower 32 bits of the 64-bit product; between rounds the key grows by the Weyl
/// constants (W0, W1). Ten rounds pass the BigCrush statistical tests.
/// </remarks>
public static class Philox
{
    /// <summary>Multiplier applied to counter word 0.</summary>
    public const uint M0 = 0xD2511F53;

    /// <summary>Multiplier applied to counter word 2.</summary>
    public const uint M1 = 0xCD9E8D57;

    /// <summary>Added to key word 0 after each round (the golden ratio, 2^32 / φ).</summary>
    public const uint W0 = 0x9E3779B9;

    /// <summary>Added to key word 1 after each round (√3 - 1, scaled to 2^32).</summary>
    public const uint W1 = 0xBB67AE85;

    /// <summary>Number of rounds.</summary>
    public const int Rounds = 10;

    /// <summary>The four output words of one block.</summary>
    public readonly record struct Block(uint X0, uint X1, uint X2, uint X3)
    {
        /// <summary>Word <paramref name="i"/> (0..3).</summary>
        public uint this[int i] => i switch
        {
            0 => X0,
            1 => X1,
            2 => X2,
            3 => X3,
            _ => throw new ArgumentOutOfRangeException(nameof(i), $"a Philox block has words 0..3, not {i}"),
        };
    }

    /// <summary>Encrypts the counter (c0, c1, c2, c3) with the key (k0, k1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Block Compute(uint k0, uint k1, uint c0, uint c1, uint c2, uint c3)
    {
        for (int round = 0; round < Rounds; round++)
        {
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
            uint n1 = (uint)p1;
            uint n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            uint n3 = (uint)p0;
            (c0, c1, c2, c3) = (n0, n1, n2, n3);
            k0 += W0;
            k1 += W1;
        }
        return new Block(c0, c1, c2, c3);
    }

    /// <summary>Block number <paramref name="counter"/> of the stream of a 64-bit <paramref name="seed"/>: the seed is
    /// the key, the counter fills the low 64 bits of the 128-bit counter.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Block Compute(ulong seed, ulong counter) =>
        Compute((uint)seed, (uint)(seed >> 32), (uint)counter, (uint)(counter >> 32), 0, 0);

    /// <summary>Word <paramref name="k"/> of the stream that starts at block <paramref name="offset"/>: word
    /// k % 4 of block offset + k / 4.</summary>
    public static uint Word(ulong seed, ulong offset, long k) => Compute(seed, offset + (ulong)(k >> 2))[(int)(k & 3)];
}
