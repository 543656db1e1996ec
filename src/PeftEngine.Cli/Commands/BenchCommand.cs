using System.ComponentModel;
using System.Diagnostics;
using PeftEngine.Cpu;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>
/// `peft bench`: a few-second check of this machine's matrix-multiply speed. It prints the FMA peak (a register-only
/// loop on all threads and on one), the f32 GEMM at 1024 and its share of that peak, the same product with a bf16
/// weight (x · Wᵀ, the weight widened while packing), and the LoRA-skinny products of a rank-16 adapter on 512
/// tokens of width 4096. Timings (the peak's too) are the best of repeated runs after a warm-up, from a Stopwatch: a quick
/// indication, not a benchmark (see docs/PERFORMANCE.md for BenchmarkDotNet numbers).
/// </summary>
public sealed class BenchCommand : Command<BenchCommand.Settings>
{
    /// <summary>Options of <c>peft bench</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--threads <N>"), Description("Threads of the multi-threaded measurements (default: all cores)")]
        public int? Threads { get; init; }
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        int threads = settings.Threads ?? CpuParallel.Threads;
        if (threads < 1) throw new ArgumentException("--threads expects at least 1");
        int saved = CpuParallel.Threads;
        CpuParallel.Threads = threads;
        try
        {
            Report(threads);
        }
        finally { CpuParallel.Threads = saved; }
        return 0;
    }

    private static void Report(int threads)
    {
        Console.WriteLine($"{Environment.ProcessorCount} logical processors, {threads} GEMM threads, " +
                          $"AVX-512 {(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "yes" : "no")}");
        FmaPeak.MeasureF32(threads, TimeSpan.FromMilliseconds(150)); // warm-up: JIT and clocks
        double peakAll = Peak(threads), peakOne = Peak(1);
        Console.WriteLine($"FMA peak f32, {threads} thread(s): {peakAll,8:F1} GFLOP/s");
        Console.WriteLine($"FMA peak f32, 1 thread:    {peakOne,8:F1} GFLOP/s");
        if (threads > 1 && peakAll < 1.5 * peakOne)
            Console.WriteLine($"note: {threads} threads barely beat one: other work is using the cores, so the timings below are low and noisy");

        using var scope = TensorScope.Begin();
        var gen = new Generator(1);
        Tensor Rand(DType dtype, params int[] dims)
        {
            var t = Tensor.Rand(new Shape(dims), gen);
            return dtype == DType.F32 ? t : t.To(dtype);
        }

        // (1, m, k) · (1, k, n): the square product, both row-major.
        var a = Rand(DType.F32, 1, 1024, 1024);
        var b = Rand(DType.F32, 1, 1024, 1024);
        var c = Tensor.Empty(new Shape(1, 1024, 1024));
        Line("GEMM 1024 f32", 1024, 1024, 1024, peakAll, () => CpuBackend.Instance.Gemm(a, b, c, false, false));

        // x · Wᵀ with W (out, in) stored in bf16: a Linear layer over a frozen bf16 base weight.
        var w16 = Rand(DType.BF16, 1, 1024, 1024);
        Line("GEMM 1024 x·Wᵀ, W bf16", 1024, 1024, 1024, peakAll, () => CpuBackend.Instance.Gemm(a, w16, c, false, true));

        // LoRA on 512 tokens of width 4096, rank 16: down x · Aᵀ (512 x 4096 · 4096 x 16), up h · Bᵀ (512 x 16 · 16 x 4096).
        var x = Rand(DType.F32, 1, 512, 4096);
        var loraA = Rand(DType.F32, 1, 16, 4096);
        var h = Tensor.Empty(new Shape(1, 512, 16));
        Line("LoRA down 512x4096 · (16x4096)ᵀ", 512, 4096, 16, peakAll, () => CpuBackend.Instance.Gemm(x, loraA, h, false, true));
        var loraB = Rand(DType.F32, 1, 4096, 16);
        var y = Tensor.Empty(new Shape(1, 512, 4096));
        Line("LoRA up 512x16 · (4096x16)ᵀ", 512, 16, 4096, peakAll, () => CpuBackend.Instance.Gemm(h, loraB, y, false, true));
    }

    /// <summary>The FMA peak measured like the products below: the best of short bursts (about 10 ms each, long
    /// enough that handing work to the pool threads costs little) over 0.4 s, so a loaded machine lowers it no more than it
    /// lowers them.</summary>
    private static double Peak(int threads)
    {
        const long rounds = 1 << 22;
        var total = Stopwatch.StartNew();
        double best = 0;
        while (total.Elapsed.TotalSeconds < 0.4)
        {
            long t0 = Stopwatch.GetTimestamp();
            long flops = FmaPeak.RunF32(threads, rounds);
            best = Math.Max(best, flops / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>Times an m x k x n product: warms up, then repeats for about 0.4 s and keeps the best time.</summary>
    private static void Line(string name, int m, int k, int n, double peak, Action run)
    {
        // Warm up for 0.5 s (and at least 50 calls): the runtime recompiles hot methods with full optimisation
        // only after they have run a while, and a timing taken before that measures half-optimised code.
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < 50 || warm.Elapsed.TotalSeconds < 0.5; i++) run();
        var total = Stopwatch.StartNew();
        double best = double.MaxValue;
        int reps = 0;
        while (total.Elapsed.TotalSeconds < 0.4 || reps < 3)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            reps++;
        }
        double gflops = 2.0 * m * k * n / best / 1e9;
        Console.WriteLine($"{name,-34} {gflops,8:F1} GFLOP/s  {100 * gflops / peak,5:F1}% of peak  (best of {reps}, {best * 1e3:F3} ms)");
    }
}
