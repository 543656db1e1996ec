using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>
/// Counter-based random fills: element i is computed from Philox-4x32-10 words of (seed, offset, i) exactly as
/// <see cref="RandomSampling"/> defines, so a GPU tensor holds the same values as a CPU one drawn with the same seed.
/// </summary>
internal static class RandomKernels
{
    /// <summary>Word k of the stream: word k % 4 of the block at counter offset + k / 4 (Philox-4x32, 10 rounds).</summary>
    public static uint Word(ulong seed, ulong offset, long k)
    {
        ulong counter = offset + (ulong)(k >> 2);
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        uint c0 = (uint)counter, c1 = (uint)(counter >> 32), c2 = 0, c3 = 0;
        for (int round = 0; round < Philox.Rounds; round++)
        {
            ulong p0 = (ulong)Philox.M0 * c0;
            ulong p1 = (ulong)Philox.M1 * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
            uint n1 = (uint)p1;
            uint n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            uint n3 = (uint)p0;
            c0 = n0; c1 = n1; c2 = n2; c3 = n3;
            k0 += Philox.W0;
            k1 += Philox.W1;
        }
        int w = (int)(k & 3);
        return w == 0 ? c0 : w == 1 ? c1 : w == 2 ? c2 : c3;
    }

    private static float Unit24(uint w) => (int)(w >> 8) * RandomSampling.Inv2Pow24;

    private static double Unit53(uint lo, uint hi) => (long)((((ulong)hi << 32) | lo) >> 11) * RandomSampling.Inv2Pow53;

    /// <summary>Fills n contiguous elements of dtype <paramref name="dtype"/>: distribution 0 uniform [a, b), 1 normal
    /// (mean a, std b, Box–Muller pairs), 3 Bernoulli (b with probability given by threshold), 4 integers in [a, b).</summary>
    public static void Fill(ArrayView<byte> dst, long dOff, int dtype, int distribution, ulong seed, ulong offset, long n, double a, double b, uint threshold)
    {
        long step = (long)Grid.DimX * Group.DimX;
        bool f64 = dtype == (int)DType.F64;
        for (long i = Grid.GlobalIndex.X; i < n; i += step)
        {
            double v;
            if (distribution == (int)RandomDistribution.Uniform)
                v = f64 ? Unit53(Word(seed, offset, 2 * i), Word(seed, offset, 2 * i + 1)) * (b - a) + a
                        : Unit24(Word(seed, offset, i)) * (float)(b - a) + (float)a;
            else if (distribution == (int)RandomDistribution.Normal)
            {
                // pair j = i / 2: z0 = r cos(2π u2), z1 = r sin(2π u2), r = sqrt(-2 log u1)
                long j = i / 2;
                double u1 = f64 ? 1.0 - Unit53(Word(seed, offset, 4 * j), Word(seed, offset, 4 * j + 1)) : 1.0 - Unit24(Word(seed, offset, 2 * j));
                double u2 = f64 ? Unit53(Word(seed, offset, 4 * j + 2), Word(seed, offset, 4 * j + 3)) : Unit24(Word(seed, offset, 2 * j + 1));
                double r = Math.Sqrt(-2.0 * Math.Log(u1));
                double z = (i & 1) == 0 ? r * Math.Cos(2.0 * Math.PI * u2) : r * Math.Sin(2.0 * Math.PI * u2);
                v = f64 ? a + b * z : (float)(a + b * z);
            }
            else if (distribution == (int)RandomDistribution.Bernoulli)
                v = (Word(seed, offset, i) >> 8) < threshold ? b : 0;
            else
            {
                ulong range = (ulong)(b - a);
                ulong bits = ((ulong)Word(seed, offset, 2 * i + 1) << 32) | Word(seed, offset, 2 * i);
                v = (long)a + (long)(bits % range);
                if (dtype == (int)DType.I64) { dst.Cast<long>()[dOff + i] = (long)a + (long)(bits % range); continue; }
            }
            ElementBits.Store(dst, dtype, dOff + i, v);
        }
    }
}
