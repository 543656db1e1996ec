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
/// which is the scalar round (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0). A round is a chain of dependent
/// instructions, so the main loops keep four vectors in flight to hide the multiply latency.
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
                ulong n = firstBlock + (ulong)b;
                var x = Philox.Compute(k0, k1, (uint)n, (uint)(n >> 32), 0, 0);
                w[4 * b] = x.X0; w[4 * b + 1] = x.X1; w[4 * b + 2] = x.X2; w[4 * b + 3] = x.X3;
            }
        }
    }

    private static int Fill512(uint k0, uint k1, ulong first, uint* w, int blocks)
    {
        var key0 = Vector512.Create((ulong)k0, k1, k0, k1, k0, k1, k0, k1);
        var keyStep = Vector512.Create((ulong)Philox.W0, Philox.W1, Philox.W0, Philox.W1, Philox.W0, Philox.W1, Philox.W0, Philox.W1);
        var counter = Vector512.Create(first, 0, first + 1, 0, first + 2, 0, first + 3, 0);
        var four = Vector512.Create(4ul, 0, 4, 0, 4, 0, 4, 0);
        int b = 0;
        for (; b + 16 <= blocks; b += 16)
        {
            Vector512<ulong> x0 = counter, x1 = x0 + four, x2 = x1 + four, x3 = x2 + four, key = key0;
            for (int r = 0; r < Philox.Rounds; r++)
            {
                x0 = Round(x0, key); x1 = Round(x1, key); x2 = Round(x2, key); x3 = Round(x3, key);
                key = NextKey(key, keyStep);
            }
            x0.AsUInt32().Store(w + 4 * b);
            x1.AsUInt32().Store(w + 4 * b + 16);
            x2.AsUInt32().Store(w + 4 * b + 32);
            x3.AsUInt32().Store(w + 4 * b + 48);
            counter += four + four + four + four;
        }
        for (; b + 4 <= blocks; b += 4)
        {
            Vector512<ulong> x = counter, key = key0;
            for (int r = 0; r < Philox.Rounds; r++)
            {
                x = Round(x, key);
                key = NextKey(key, keyStep);
            }
            x.AsUInt32().Store(w + 4 * b);
            counter += four;
        }
        return b;
    }

    private static int Fill256(uint k0, uint k1, ulong first, uint* w, int blocks)
    {
        var key0 = Vector256.Create((ulong)k0, k1, k0, k1);
        var keyStep = Vector256.Create((ulong)Philox.W0, Philox.W1, Philox.W0, Philox.W1);
        var counter = Vector256.Create(first, 0, first + 1, 0);
        var two = Vector256.Create(2ul, 0, 2, 0);
        int b = 0;
        for (; b + 8 <= blocks; b += 8)
        {
            Vector256<ulong> x0 = counter, x1 = x0 + two, x2 = x1 + two, x3 = x2 + two, key = key0;
            for (int r = 0; r < Philox.Rounds; r++)
            {
                x0 = Round(x0, key); x1 = Round(x1, key); x2 = Round(x2, key); x3 = Round(x3, key);
                key = NextKey(key, keyStep);
            }
            x0.AsUInt32().Store(w + 4 * b);
            x1.AsUInt32().Store(w + 4 * b + 8);
            x2.AsUInt32().Store(w + 4 * b + 16);
            x3.AsUInt32().Store(w + 4 * b + 24);
            counter += two + two + two + two;
        }
        for (; b + 2 <= blocks; b += 2)
        {
            Vector256<ulong> x = counter, key = key0;
            for (int r = 0; r < Philox.Rounds; r++)
            {
                x = Round(x, key);
                key = NextKey(key, keyStep);
            }
            x.AsUInt32().Store(w + 4 * b);
            counter += two;
        }
        return b;
    }

    /// <summary>One Philox round on four blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Round(Vector512<ulong> x, Vector512<ulong> key)
    {
        var mult = Vector512.Create((ulong)Philox.M0, Philox.M1, Philox.M0, Philox.M1, Philox.M0, Philox.M1, Philox.M0, Philox.M1);
        var p = Avx512F.IsSupported
            ? Avx512F.Multiply(x.AsUInt32(), mult.AsUInt32())
            : (x & Vector512.Create(0xFFFF_FFFFul)) * mult;
        var swapped = Avx512F.IsSupported
            ? Avx512F.Shuffle(p.AsUInt32(), 0b00_01_10_11)
            : Vector512.Shuffle(p.AsUInt32(), Vector512.Create(3u, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12));
        return swapped.AsUInt64() ^ (x >>> 32) ^ key;
    }

    /// <summary>One Philox round on two blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Round(Vector256<ulong> x, Vector256<ulong> key)
    {
        var mult = Vector256.Create((ulong)Philox.M0, Philox.M1, Philox.M0, Philox.M1);
        var p = Avx2.IsSupported
            ? Avx2.Multiply(x.AsUInt32(), mult.AsUInt32())
            : (x & Vector256.Create(0xFFFF_FFFFul)) * mult;
        var swapped = Avx2.IsSupported
            ? Avx2.Shuffle(p.AsUInt32(), 0b00_01_10_11)
            : Vector256.Shuffle(p.AsUInt32(), Vector256.Create(3u, 2, 1, 0, 7, 6, 5, 4));
        return swapped.AsUInt64() ^ (x >>> 32) ^ key;
    }

    /// <summary>The key of the next round: (k0 + W0, 0, k1 + W1, 0), added in 32-bit lanes so it wraps like the scalar key.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> NextKey(Vector512<ulong> key, Vector512<ulong> step) => (key.AsUInt32() + step.AsUInt32()).AsUInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> NextKey(Vector256<ulong> key, Vector256<ulong> step) => (key.AsUInt32() + step.AsUInt32()).AsUInt64();
}
