using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PeftEngine.Cpu;

/// <summary>
/// Philox4x32-10 on SIMD registers: consecutive blocks are computed side by side, four per Vector512 or two per
/// Vector256, and come out already in stream order. Gives exactly the words of <see cref="Philox.Compute(ulong, ulong)"/>.
/// </summary>
/// <remarks>
/// Each 128-bit lane holds one block (c0, c1, c2, c3), which seen as two 64-bit halves is (c1:c0, c3:c2). One round:
/// <code>
///   p    = lo32(halves) × (M0, M1)        // 64-bit products: (hi0:lo0, hi1:lo1) = (M0·c0, M1·c2)
///   swap = shuffle p's words to (hi1, lo1, hi0, lo0)
///   next = swap ^ (halves >> 32) ^ key     // (halves >> 32) is (c1, 0, c3, 0); key is (k0, 0, k1, 0)
/// </code>
/// which is the scalar round (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0).
/// </remarks>
internal static unsafe class PhiloxKernel
{
    /// <summary>Writes the words of blocks firstBlock, firstBlock + 1, ... into <paramref name="words"/>
    /// (whose length is a multiple of 4).</summary>
    public static void Fill(ulong seed, ulong firstBlock, Span<uint> words)
    {
        if ((words.Length & 3) != 0) throw new ArgumentException($"Philox fill: {words.Length} words is not a whole number of blocks");
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        int blocks = words.Length / 4, done = 0;
        fixed (uint* w = words)
        {
            if (Vector512.IsHardwareAccelerated) done = Fill512(k0, k1, firstBlock, w, blocks);
            else if (Vector256.IsHardwareAccelerated) done = Fill256(k0, k1, firstBlock, w, blocks);
            for (int b = done; b < blocks; b++)
            {
                var x = Philox.Compute(k0, k1, (uint)(firstBlock + (ulong)b), (uint)((firstBlock + (ulong)b) >> 32), 0, 0);
                w[4 * b] = x.X0; w[4 * b + 1] = x.X1; w[4 * b + 2] = x.X2; w[4 * b + 3] = x.X3;
            }
        }
    }

    private static int Fill512(uint k0, uint k1, ulong first, uint* w, int blocks)
    {
        var mult = Vector512.Create((ulong)Philox.M0, Philox.M1, Philox.M0, Philox.M1, Philox.M0, Philox.M1, Philox.M0, Philox.M1);
        Span<Vector512<ulong>> keys = stackalloc Vector512<ulong>[Philox.Rounds];
        for (int r = 0; r < Philox.Rounds; r++)
        {
            uint a = k0 + (uint)r * Philox.W0, b = k1 + (uint)r * Philox.W1; // the key of round r (32-bit wrap-around)
            keys[r] = Vector512.Create((ulong)a, b, a, b, a, b, a, b);
        }
        var swap = Vector512.Create(3u, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
        var counter = Vector512.Create(first, 0, first + 1, 0, first + 2, 0, first + 3, 0);
        var step = Vector512.Create(4ul, 0, 4, 0, 4, 0, 4, 0);
        int b0 = 0;
        for (; b0 + 4 <= blocks; b0 += 4)
        {
            var x = counter;
            for (int r = 0; r < Philox.Rounds; r++)
            {
                var p = Avx512F.IsSupported
                    ? Avx512F.Multiply(x.AsUInt32(), mult.AsUInt32())
                    : (x & Vector512.Create(0xFFFF_FFFFul)) * mult;
                x = Vector512.Shuffle(p.AsUInt32(), swap).AsUInt64() ^ (x >>> 32) ^ keys[r];
            }
            x.AsUInt32().Store(w + 4 * b0);
            counter += step;
        }
        return b0;
    }

    private static int Fill256(uint k0, uint k1, ulong first, uint* w, int blocks)
    {
        var mult = Vector256.Create((ulong)Philox.M0, Philox.M1, Philox.M0, Philox.M1);
        Span<Vector256<ulong>> keys = stackalloc Vector256<ulong>[Philox.Rounds];
        for (int r = 0; r < Philox.Rounds; r++)
        {
            uint a = k0 + (uint)r * Philox.W0, b = k1 + (uint)r * Philox.W1;
            keys[r] = Vector256.Create((ulong)a, b, a, b);
        }
        var swap = Vector256.Create(3u, 2, 1, 0, 7, 6, 5, 4);
        var counter = Vector256.Create(first, 0, first + 1, 0);
        var step = Vector256.Create(2ul, 0, 2, 0);
        int b0 = 0;
        for (; b0 + 2 <= blocks; b0 += 2)
        {
            var x = counter;
            for (int r = 0; r < Philox.Rounds; r++)
            {
                var p = Avx2.IsSupported
                    ? Avx2.Multiply(x.AsUInt32(), mult.AsUInt32())
                    : (x & Vector256.Create(0xFFFF_FFFFul)) * mult;
                x = Vector256.Shuffle(p.AsUInt32(), swap).AsUInt64() ^ (x >>> 32) ^ keys[r];
            }
            x.AsUInt32().Store(w + 4 * b0);
            counter += step;
        }
        return b0;
    }
}
