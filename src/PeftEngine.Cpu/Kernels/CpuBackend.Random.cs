using System.Runtime.Intrinsics;

namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Elements per work item. A multiple of 4, so every chunk starts on a whole Philox block and a whole
    /// normal pair; chunks depend only on the element count, never on the thread count.</summary>
    private const int RandomChunk = 4096;

    public void FillRandom(Tensor dst, RandomDistribution distribution, ulong seed, ulong offset, double a, double b)
    {
        RandomSampling.Validate(distribution, dst.DType, a, b);
        if (!dst.IsContiguous) throw new ArgumentException($"FillRandom: dst {dst.Shape} must be contiguous");
        long n = dst.Numel;
        int words = RandomSampling.WordsPerElement(distribution, dst.DType);
        byte* basePtr = (byte*)dst.HostStorage.Pointer + dst.Offset * dst.DType.SizeOf();
        DType dtype = dst.DType;
        long chunks = (n + RandomChunk - 1) / RandomChunk;
        // Uniforms cost a few operations per element, normals a log and a sine: either way worth threads early.
        CpuParallel.For(chunks, RandomChunk * 8L, (c0, c1) =>
        {
            var buffer = new uint[RandomChunk * 2];
            for (long c = c0; c < c1; c++)
            {
                long start = c * RandomChunk;
                int len = (int)Math.Min(RandomChunk, n - start);
                var stream = buffer.AsSpan(0, (int)RandomSampling.BlocksFor(len, words) * 4);
                PhiloxKernel.Fill(seed, offset + (ulong)(start * words / 4), stream);
                Transform(distribution, dtype, stream, basePtr + start * dtype.SizeOf(), len, a, b);
            }
        });
    }

    /// <summary>Turns one chunk's words into <paramref name="len"/> values at <paramref name="p"/>, exactly as
    /// <see cref="RandomSampling"/> defines them.</summary>
    private static void Transform(RandomDistribution distribution, DType dtype, ReadOnlySpan<uint> w, byte* p, int len, double a, double b)
    {
        switch (distribution, dtype)
        {
            case (RandomDistribution.Uniform, DType.F32):
                UniformF32(w, (float*)p, len, (float)a, (float)(b - a));
                break;
            case (RandomDistribution.Uniform, DType.F64):
                for (int i = 0; i < len; i++) ((double*)p)[i] = RandomSampling.UniformF64(w[2 * i], w[2 * i + 1], a, b - a);
                break;
            case (RandomDistribution.Normal, DType.F32):
                for (int i = 0; i < len; i += 2)
                {
                    var (z0, z1) = RandomSampling.NormalPairF32(w[i], w[i + 1], a, b);
                    ((float*)p)[i] = z0;
                    if (i + 1 < len) ((float*)p)[i + 1] = z1;
                }
                break;
            case (RandomDistribution.Normal, DType.F64):
                for (int i = 0; i < len; i += 2)
                {
                    var (z0, z1) = RandomSampling.NormalPairF64(w[2 * i], w[2 * i + 1], w[2 * i + 2], w[2 * i + 3], a, b);
                    ((double*)p)[i] = z0;
                    if (i + 1 < len) ((double*)p)[i + 1] = z1;
                }
                break;
            case (RandomDistribution.TruncatedNormal, _):
            {
                double cdfA = NormalDistribution.Cdf(a), cdfB = NormalDistribution.Cdf(b);
                for (int i = 0; i < len; i++)
                {
                    if (dtype == DType.F64)
                        ((double*)p)[i] = RandomSampling.TruncatedNormal(RandomSampling.Unit53(w[2 * i], w[2 * i + 1]), a, b, cdfA, cdfB);
                    else
                        ((float*)p)[i] = (float)RandomSampling.TruncatedNormal(RandomSampling.Unit24(w[i]), a, b, cdfA, cdfB);
                }
                break;
            }
            case (RandomDistribution.Bernoulli, DType.F32):
                BernoulliF32(w, (float*)p, len, RandomSampling.BernoulliThreshold(a), (float)b);
                break;
            case (RandomDistribution.Bernoulli, _):
            {
                uint threshold = RandomSampling.BernoulliThreshold(a);
                for (int i = 0; i < len; i++)
                {
                    bool hit = RandomSampling.Bernoulli(w[i], threshold);
                    if (dtype == DType.F64) ((double*)p)[i] = hit ? b : 0;
                    else p[i] = hit ? checked((byte)b) : (byte)0;
                }
                break;
            }
            case (RandomDistribution.Integer, _):
            {
                long low = (long)a;
                ulong range = (ulong)(b - a);
                for (int i = 0; i < len; i++)
                {
                    long v = RandomSampling.Integer(w[2 * i], w[2 * i + 1], low, range);
                    if (dtype == DType.I64) ((long*)p)[i] = v;
                    else ((int*)p)[i] = checked((int)v);
                }
                break;
            }
            default:
                throw Unsupported($"FillRandom {distribution}", dtype);
        }
    }

    /// <summary>y = unit24(w) * scale + low, 16 (or 8) lanes at a time, then the same formula for the tail.</summary>
    private static void UniformF32(ReadOnlySpan<uint> w, float* y, int len, float low, float scale)
    {
        int i = 0;
        fixed (uint* pw = w)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var vScale = Vector512.Create(scale);
                var vLow = Vector512.Create(low);
                var unit = Vector512.Create(RandomSampling.Inv2Pow24);
                for (; i + 16 <= len; i += 16)
                {
                    var m = Vector512.ConvertToSingle((Vector512.Load(pw + i) >>> 8).AsInt32());
                    (m * unit * vScale + vLow).Store(y + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var vScale = Vector256.Create(scale);
                var vLow = Vector256.Create(low);
                var unit = Vector256.Create(RandomSampling.Inv2Pow24);
                for (; i + 8 <= len; i += 8)
                {
                    var m = Vector256.ConvertToSingle((Vector256.Load(pw + i) >>> 8).AsInt32());
                    (m * unit * vScale + vLow).Store(y + i);
                }
            }
        }
        for (; i < len; i++) y[i] = RandomSampling.UniformF32(w[i], low, scale);
    }

    /// <summary>y = (w >> 8) &lt; threshold ? value : 0, vectorised.</summary>
    private static void BernoulliF32(ReadOnlySpan<uint> w, float* y, int len, uint threshold, float value)
    {
        int i = 0;
        fixed (uint* pw = w)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var t = Vector512.Create(threshold);
                var v = Vector512.Create(value);
                for (; i + 16 <= len; i += 16)
                {
                    var hit = Vector512.LessThan(Vector512.Load(pw + i) >>> 8, t).AsSingle();
                    (hit & v).Store(y + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var t = Vector256.Create(threshold);
                var v = Vector256.Create(value);
                for (; i + 8 <= len; i += 8)
                {
                    var hit = Vector256.LessThan(Vector256.Load(pw + i) >>> 8, t).AsSingle();
                    (hit & v).Store(y + i);
                }
            }
        }
        for (; i < len; i++) y[i] = RandomSampling.Bernoulli(w[i], threshold) ? value : 0f;
    }
}
