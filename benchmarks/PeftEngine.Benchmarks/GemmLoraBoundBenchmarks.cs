using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using PeftEngine.Cpu;

namespace PeftEngine.Benchmarks;

/// <summary>
/// Where the time of the LoRA down-projection at rank 8 goes: h = x · Aᵀ with x 512 x 4096 f32 (8 MiB) and A 8 x 4096
/// (128 KiB). The product runs next to loops over the same x (the same memory) that do the same multiply-adds with
/// one of the product's constraints lifted at a time; each splits the rows of x in two halves over two threads.
/// <list type="bullet">
/// <item><see cref="Product"/>: <c>CpuBackend.Gemm</c>, the baseline.</item>
/// <item><see cref="Stream"/>: reads x once (a sum), no multiply-adds.</item>
/// <item><see cref="RegisterOperand"/>: x in whole rows, each vector multiplied with eight vectors held in registers
/// (16 multiply-adds per two loads): the product's bytes and arithmetic with no second operand to fetch.</item>
/// <item><see cref="WindowWholeRows"/>: the 3 x 8 kernel (three rows of x against eight rows of A, 11 loads per 24
/// multiply-adds) with x in whole rows and A read from a 16 KiB window that stays in L1 (a copy of its first 512
/// columns, rows back to back).</item>
/// <item><see cref="WindowStretches"/>: the same, x read as the product reads it: stretches of 1024 elements, 24 rows
/// at a time.</item>
/// <item><see cref="SliceStretches"/>: as the product walks: A's own 32 KiB slice for each stretch, the partial sums of
/// each block kept in memory between stretches (no final sums, no writes to C).</item>
/// <item><see cref="WholeK"/>: the 3 x 8 kernel over all of k at once: A's 128 KiB read from L2 on every block.</item>
/// </list>
/// Every row's GFLOP/s counts the product's 2·512·4096·8 operations, so the column compares directly.
/// <c>--filter '*GemmLoraBound*'</c>.
/// </summary>
[Config(typeof(BoundConfig))]
public unsafe class GemmLoraBoundBenchmarks
{
    private const int Tokens = 512, Width = 4096, Rank = 8, BlockRows = 3, Stretch = 1024, Window = 512, Group = 8;
    private const int Blocks = (Tokens + BlockRows - 1) / BlockRows;
    private Tensor _x = null!, _a = null!, _h = null!;
    private float* _px, _pa, _ph, _window;

    [GlobalSetup]
    public void Setup()
    {
        _x = GemmData.Random(1, DType.F32, 1, Tokens, Width);
        _a = GemmData.Random(2, DType.F32, 1, Rank, Width);
        _h = Tensor.Empty(new Shape(1, Tokens, Rank));
        _px = _x.HostStorage.Ptr<float>(_x.Offset);
        _pa = _a.HostStorage.Ptr<float>(_a.Offset);
        _ph = _h.HostStorage.Ptr<float>(_h.Offset);
        // A's first 512 columns with its rows back to back (16 KiB): spread over every set of L1, where A's own rows,
        // 16 KiB apart, would all fall into the same half of the sets.
        _window = (float*)NativeMemory.AlignedAlloc(Rank * Window * sizeof(float), 64);
        for (int j = 0; j < Rank; j++) new ReadOnlySpan<float>(_pa + j * Width, Window).CopyTo(new Span<float>(_window + j * Window, Window));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _x, _a, _h }) t.Dispose();
        NativeMemory.AlignedFree(_window);
    }

    [Benchmark(Baseline = true)]
    public void Product() => CpuBackend.Instance.Gemm(_x, _a, _h, false, true);

    [Benchmark]
    public void Walk() => GemmDotRows<GemmVector512<float>, Vector512<float>, float>.Run(_px, Width, _pa, Width, Tokens, Rank, Width,
        _ph, Rank, 1f, 0f, parallel: true);

    [Benchmark]
    public float Stream() => Halves((t, sums) =>
    {
        long start = (long)t * (Tokens / 2) * Width, count = (long)(Tokens / 2) * Width;
        var s0 = Vector512<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
        for (long i = start; i < start + count; i += 64)
        {
            s0 += Vector512.Load(_px + i); s1 += Vector512.Load(_px + i + 16);
            s2 += Vector512.Load(_px + i + 32); s3 += Vector512.Load(_px + i + 48);
        }
        sums[0] = (s0 + s1) + (s2 + s3);
    });

    [Benchmark]
    public float RegisterOperand() => Halves((t, sums) =>
    {
        for (int i = t * Tokens / 2; i < (t + 1) * Tokens / 2; i += 2) sums[0] += TwoRowsAgainstRegisters(Row(i), Row(i + 1));
    });

    [Benchmark]
    public float WindowWholeRows() => Halves((t, sums) =>
    {
        for (int bi = Blocks * t / 2; bi < Blocks * (t + 1) / 2; bi++)
            for (int p0 = 0; p0 < Width; p0 += Window) Block(bi, p0, _window, Window, Window, sums);
    });

    [Benchmark]
    public float WindowStretches() => Halves((t, sums) => Stretches(t, sums, window: true));

    [Benchmark]
    public float SliceStretches() => Halves((t, sums) => Stretches(t, sums, window: false));

    [Benchmark]
    public float WholeK() => Halves((t, sums) =>
    {
        for (int bi = Blocks * t / 2; bi < Blocks * (t + 1) / 2; bi++) Block(bi, 0, _pa, Width, Width, sums);
    });

    private float* Row(int i) => _px + (long)Math.Min(i, Tokens - 1) * Width;

    /// <summary>The product's walk: groups of eight row blocks take each stretch of k in turn, each block's 24 sums
    /// kept in memory; A's slice of the stretch (or the 16 KiB window, twice).</summary>
    private void Stretches(int t, Vector512<float>* sums, bool window)
    {
        int b0 = Blocks * t / 2, b1 = Blocks * (t + 1) / 2;
        Vector512<float>* acc = stackalloc Vector512<float>[Group * 24];
        for (int g0 = b0; g0 < b1; g0 += Group)
        {
            int blocks = Math.Min(Group, b1 - g0);
            new Span<Vector512<float>>(acc, Group * 24).Clear();
            for (int p0 = 0; p0 < Width; p0 += Stretch)
                for (int bi = 0; bi < blocks; bi++)
                {
                    if (window)
                        for (int w0 = 0; w0 < Stretch; w0 += Window) Block(g0 + bi, p0 + w0, _window, Window, Window, acc + bi * 24);
                    else Block(g0 + bi, p0, _pa + p0, Width, Stretch, acc + bi * 24);
                }
            sums[0] += acc[0];
        }
    }

    /// <summary>acc[8r + j] += row r of block bi (x from column p0 on) times row j of a (rows lda apart), over len
    /// elements, lane-wise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Block(int bi, int p0, float* a, int lda, int len, Vector512<float>* acc)
    {
        float* x0 = Row(bi * 3) + p0, x1 = Row(bi * 3 + 1) + p0, x2 = Row(bi * 3 + 2) + p0;
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda;
        float* a4 = a + 4 * lda, a5 = a + 5 * lda, a6 = a + 6 * lda, a7 = a + 7 * lda;
        Vector512<float> c00 = acc[0], c01 = acc[1], c02 = acc[2], c03 = acc[3], c04 = acc[4], c05 = acc[5], c06 = acc[6], c07 = acc[7];
        Vector512<float> c10 = acc[8], c11 = acc[9], c12 = acc[10], c13 = acc[11], c14 = acc[12], c15 = acc[13], c16 = acc[14], c17 = acc[15];
        Vector512<float> c20 = acc[16], c21 = acc[17], c22 = acc[18], c23 = acc[19], c24 = acc[20], c25 = acc[21], c26 = acc[22], c27 = acc[23];
        for (int p = 0; p < len; p += 16)
        {
            var u0 = Vector512.Load(x0 + p); var u1 = Vector512.Load(x1 + p); var u2 = Vector512.Load(x2 + p);
            var y = Vector512.Load(a0 + p); c00 = Fma(u0, y, c00); c10 = Fma(u1, y, c10); c20 = Fma(u2, y, c20);
            y = Vector512.Load(a1 + p); c01 = Fma(u0, y, c01); c11 = Fma(u1, y, c11); c21 = Fma(u2, y, c21);
            y = Vector512.Load(a2 + p); c02 = Fma(u0, y, c02); c12 = Fma(u1, y, c12); c22 = Fma(u2, y, c22);
            y = Vector512.Load(a3 + p); c03 = Fma(u0, y, c03); c13 = Fma(u1, y, c13); c23 = Fma(u2, y, c23);
            y = Vector512.Load(a4 + p); c04 = Fma(u0, y, c04); c14 = Fma(u1, y, c14); c24 = Fma(u2, y, c24);
            y = Vector512.Load(a5 + p); c05 = Fma(u0, y, c05); c15 = Fma(u1, y, c15); c25 = Fma(u2, y, c25);
            y = Vector512.Load(a6 + p); c06 = Fma(u0, y, c06); c16 = Fma(u1, y, c16); c26 = Fma(u2, y, c26);
            y = Vector512.Load(a7 + p); c07 = Fma(u0, y, c07); c17 = Fma(u1, y, c17); c27 = Fma(u2, y, c27);
        }
        acc[0] = c00; acc[1] = c01; acc[2] = c02; acc[3] = c03; acc[4] = c04; acc[5] = c05; acc[6] = c06; acc[7] = c07;
        acc[8] = c10; acc[9] = c11; acc[10] = c12; acc[11] = c13; acc[12] = c14; acc[13] = c15; acc[14] = c16; acc[15] = c17;
        acc[16] = c20; acc[17] = c21; acc[18] = c22; acc[19] = c23; acc[20] = c24; acc[21] = c25; acc[22] = c26; acc[23] = c27;
    }

    /// <summary>Two rows of x, each vector multiplied with eight register-held vectors (A's first 16 columns).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Vector512<float> TwoRowsAgainstRegisters(float* x0, float* x1)
    {
        var b0 = Vector512.Load(_pa); var b1 = Vector512.Load(_pa + Width); var b2 = Vector512.Load(_pa + 2 * Width);
        var b3 = Vector512.Load(_pa + 3 * Width); var b4 = Vector512.Load(_pa + 4 * Width); var b5 = Vector512.Load(_pa + 5 * Width);
        var b6 = Vector512.Load(_pa + 6 * Width); var b7 = Vector512.Load(_pa + 7 * Width);
        var z = Vector512<float>.Zero;
        Vector512<float> c00 = z, c01 = z, c02 = z, c03 = z, c04 = z, c05 = z, c06 = z, c07 = z;
        Vector512<float> c10 = z, c11 = z, c12 = z, c13 = z, c14 = z, c15 = z, c16 = z, c17 = z;
        for (int p = 0; p < Width; p += 16)
        {
            var u0 = Vector512.Load(x0 + p); var u1 = Vector512.Load(x1 + p);
            c00 = Fma(u0, b0, c00); c10 = Fma(u1, b0, c10); c01 = Fma(u0, b1, c01); c11 = Fma(u1, b1, c11);
            c02 = Fma(u0, b2, c02); c12 = Fma(u1, b2, c12); c03 = Fma(u0, b3, c03); c13 = Fma(u1, b3, c13);
            c04 = Fma(u0, b4, c04); c14 = Fma(u1, b4, c14); c05 = Fma(u0, b5, c05); c15 = Fma(u1, b5, c15);
            c06 = Fma(u0, b6, c06); c16 = Fma(u1, b6, c16); c07 = Fma(u0, b7, c07); c17 = Fma(u1, b7, c17);
        }
        return ((c00 + c01) + (c02 + c03)) + ((c04 + c05) + (c06 + c07)) + ((c10 + c11) + (c12 + c13)) + ((c14 + c15) + (c16 + c17));
    }

    private static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    /// <summary>Runs body(t, sums) for the two halves t = 0, 1 on the thread pool, each with 24 vectors of its own
    /// to add into; returns a sum of them so no loop is dead code.</summary>
    private delegate void HalfBody(int t, Vector512<float>* sums);

    private static float Halves(HalfBody body)
    {
        var totals = new float[2];
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, t =>
        {
            Vector512<float>* sums = stackalloc Vector512<float>[24];
            new Span<Vector512<float>>(sums, 24).Clear();
            body(t, sums);
            totals[t] = Vector512.Sum(sums[0]);
        });
        return totals[0] + totals[1];
    }

    private sealed class BoundConfig : ManualConfig
    {
        public BoundConfig() => AddColumn(new RateColumn("GFLOP/s", "2·512·4096·8 / mean time (the product's operations)",
            _ => 2.0 * Tokens * Width * Rank));
    }
}
