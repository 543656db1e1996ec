namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    /// <summary>One element at a time, each word computed on its own with <see cref="Philox.Word"/>: the plain
    /// definition of a random fill.</summary>
    public void FillRandom(Tensor dst, RandomDistribution distribution, ulong seed, ulong offset, double a, double b)
    {
        RandomSampling.Validate(distribution, dst.DType, a, b);
        bool f64 = dst.DType == DType.F64;
        uint W(long k) => Philox.Word(seed, offset, k);
        double cdfA = NormalDistribution.Cdf(a), cdfB = NormalDistribution.Cdf(b);
        uint threshold = RandomSampling.BernoulliThreshold(a);
        long i = 0;
        foreach (long at in ElementOffsets(dst))
        {
            double v;
            switch (distribution)
            {
                case RandomDistribution.Uniform:
                    v = f64 ? RandomSampling.UniformF64(W(2 * i), W(2 * i + 1), a, b - a)
                            : RandomSampling.UniformF32(W(i), (float)a, (float)(b - a));
                    break;
                case RandomDistribution.Normal:
                {
                    long j = i / 2; // the pair this element belongs to
                    v = f64 ? Pick(RandomSampling.NormalPairF64(W(4 * j), W(4 * j + 1), W(4 * j + 2), W(4 * j + 3), a, b), i)
                            : Pick(RandomSampling.NormalPairF32(W(2 * j), W(2 * j + 1), a, b), i);
                    break;
                }
                case RandomDistribution.TruncatedNormal:
                {
                    double u = f64 ? RandomSampling.Unit53(W(2 * i), W(2 * i + 1)) : RandomSampling.Unit24(W(i));
                    double z = RandomSampling.TruncatedNormal(u, a, b, cdfA, cdfB);
                    v = f64 ? z : (float)z;
                    break;
                }
                case RandomDistribution.Bernoulli:
                    v = RandomSampling.Bernoulli(W(i), threshold) ? b : 0;
                    break;
                case RandomDistribution.Integer:
                    v = RandomSampling.Integer(W(2 * i), W(2 * i + 1), (long)a, (ulong)(b - a));
                    break;
                default:
                    throw Unsupported($"FillRandom {distribution}", dst.DType);
            }
            WriteDouble(dst, at, v);
            i++;
        }
    }

    /// <summary>The first of a normal pair for even elements, the second for odd ones.</summary>
    private static double Pick((double Z0, double Z1) pair, long i) => (i & 1) == 0 ? pair.Z0 : pair.Z1;

    private static double Pick((float Z0, float Z1) pair, long i) => (i & 1) == 0 ? pair.Z0 : pair.Z1;
}
