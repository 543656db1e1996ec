using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PeftEngine.Cpu;

/// <summary>
/// Measures the machine's practical floating-point peak: a loop of fused multiply-adds on values held in vector
/// registers only (no loads or stores), run on a chosen number of threads. It is the ceiling a GEMM can approach;
/// the GEMM benchmarks report their GFLOP/s as a share of it.
/// </summary>
/// <remarks>
/// Each thread keeps 16 independent accumulators, enough to hide the FMA latency (4 cycles on recent x86 cores)
/// on two FMA pipes, and counts 2 floating-point operations per lane per FMA. There is no PyTorch equivalent;
/// the nearest thing is a peak-FLOPS probe such as the one in likwid-bench ("peakflops").
/// </remarks>
public static class FmaPeak
{
    /// <summary>Inner-loop iterations between two looks at the clock.</summary>
    private const int Batch = 4096;

    /// <summary>Accumulators per thread.</summary>
    private const int Chains = 16;

    private static volatile float s_sink;

    /// <summary>
    /// Runs the register-only f32 FMA loop on <paramref name="threads"/> threads for about
    /// <paramref name="duration"/> and returns the total GFLOP/s (10⁹ floating-point operations per second).
    /// </summary>
    /// <param name="threads">Threads to run at once (at least 1).</param>
    /// <param name="duration">How long each thread runs.</param>
    /// <param name="vectorBits">512 or 256 for the vector width; 0 for the widest the CPU runs natively.</param>
    public static double MeasureF32(int threads, TimeSpan duration, int vectorBits = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        if (vectorBits == 0) vectorBits = Vector512.IsHardwareAccelerated ? 512 : 256;
        if (vectorBits is not (512 or 256))
            throw new ArgumentException($"FmaPeak: vectorBits must be 0, 256 or 512, got {vectorBits}");
        if (vectorBits == 512 && !Vector512.IsHardwareAccelerated)
            throw new NotSupportedException("FmaPeak: this CPU does not run 512-bit vectors natively");
        int lanes = vectorBits / 32;
        var flops = new long[threads];
        var seconds = new double[threads];
        using var start = new Barrier(threads);
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() =>
            {
                start.SignalAndWait();
                var clock = Stopwatch.StartNew();
                long iterations = 0;
                float sink = 0;
                while (clock.Elapsed < duration)
                {
                    sink += vectorBits == 512 ? Loop512(Batch) : Loop256(Batch);
                    iterations += Batch;
                }
                seconds[id] = clock.Elapsed.TotalSeconds;
                flops[id] = iterations * Chains * lanes * 2;
                s_sink = sink;
            }) { IsBackground = true, Priority = ThreadPriority.AboveNormal };
            workers[t].Start();
        }
        foreach (var w in workers) w.Join();
        return flops.Sum() / seconds.Max() / 1e9;
    }

    /// <summary>
    /// Runs a fixed amount of the same loop: <paramref name="rounds"/> rounds of 16 FMAs on each of
    /// <paramref name="threads"/> threads (1 runs on the calling thread), and returns the floating-point operations
    /// done, so a caller that times it (a benchmark harness) gets GFLOP/s as that count over the time.
    /// </summary>
    /// <param name="threads">Threads to run at once (at least 1).</param>
    /// <param name="rounds">Rounds per thread, in multiples of 4096 (rounded up).</param>
    /// <param name="vectorBits">512 or 256; 0 for the widest the CPU runs natively.</param>
    public static long RunF32(int threads, long rounds, int vectorBits = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        if (vectorBits == 0) vectorBits = Vector512.IsHardwareAccelerated ? 512 : 256;
        if (vectorBits is not (512 or 256))
            throw new ArgumentException($"FmaPeak: vectorBits must be 0, 256 or 512, got {vectorBits}");
        long batches = (rounds + Batch - 1) / Batch;
        void Work()
        {
            float sink = 0;
            for (long i = 0; i < batches; i++) sink += vectorBits == 512 ? Loop512(Batch) : Loop256(Batch);
            s_sink = sink;
        }
        // The threads come from the thread pool, as the kernels' do (CpuParallel): pool threads already run on
        // their own cores, while a freshly started thread may share its creator's core for the first milliseconds,
        // longer than one call of a few milliseconds lasts.
        if (threads == 1) Work();
        else Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => Work());
        return batches * Batch * Chains * (vectorBits / 32) * 2L * threads;
    }

    /// <summary>n rounds of 16 independent 512-bit FMAs; returns one lane so the work is not optimised away.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop512(int n)
    {
        var m = Vector512.Create(0.999999f);
        var d = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        Vector512<float> a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        for (int i = 0; i < n; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, d); a1 = Vector512.FusedMultiplyAdd(a1, m, d);
            a2 = Vector512.FusedMultiplyAdd(a2, m, d); a3 = Vector512.FusedMultiplyAdd(a3, m, d);
            a4 = Vector512.FusedMultiplyAdd(a4, m, d); a5 = Vector512.FusedMultiplyAdd(a5, m, d);
            a6 = Vector512.FusedMultiplyAdd(a6, m, d); a7 = Vector512.FusedMultiplyAdd(a7, m, d);
            a8 = Vector512.FusedMultiplyAdd(a8, m, d); a9 = Vector512.FusedMultiplyAdd(a9, m, d);
            a10 = Vector512.FusedMultiplyAdd(a10, m, d); a11 = Vector512.FusedMultiplyAdd(a11, m, d);
            a12 = Vector512.FusedMultiplyAdd(a12, m, d); a13 = Vector512.FusedMultiplyAdd(a13, m, d);
            a14 = Vector512.FusedMultiplyAdd(a14, m, d); a15 = Vector512.FusedMultiplyAdd(a15, m, d);
        }
        var s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15));
        return s.GetElement(0);
    }

    /// <summary>n rounds of 16 independent 256-bit FMAs; returns one lane so the work is not optimised away.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop256(int n)
    {
        var m = Vector256.Create(0.999999f);
        var d = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        Vector256<float> a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        for (int i = 0; i < n; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, d); a1 = Vector256.FusedMultiplyAdd(a1, m, d);
            a2 = Vector256.FusedMultiplyAdd(a2, m, d); a3 = Vector256.FusedMultiplyAdd(a3, m, d);
            a4 = Vector256.FusedMultiplyAdd(a4, m, d); a5 = Vector256.FusedMultiplyAdd(a5, m, d);
            a6 = Vector256.FusedMultiplyAdd(a6, m, d); a7 = Vector256.FusedMultiplyAdd(a7, m, d);
            a8 = Vector256.FusedMultiplyAdd(a8, m, d); a9 = Vector256.FusedMultiplyAdd(a9, m, d);
            a10 = Vector256.FusedMultiplyAdd(a10, m, d); a11 = Vector256.FusedMultiplyAdd(a11, m, d);
            a12 = Vector256.FusedMultiplyAdd(a12, m, d); a13 = Vector256.FusedMultiplyAdd(a13, m, d);
            a14 = Vector256.FusedMultiplyAdd(a14, m, d); a15 = Vector256.FusedMultiplyAdd(a15, m, d);
        }
        var s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15));
        return s.GetElement(0);
    }
}
