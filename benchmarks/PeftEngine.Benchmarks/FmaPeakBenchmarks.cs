using BenchmarkDotNet.Attributes;
using PeftEngine.Cpu;

namespace PeftEngine.Benchmarks;

/// <summary>
/// The machine's register-only FMA peak, the ceiling for the GEMM benchmarks:
/// <c>dotnet run -c Release --project benchmarks/PeftEngine.Benchmarks -- --filter '*FmaPeak*'</c>.
/// Each call runs 2²⁰ rounds of 16 independent vector FMAs per thread; the GFLOP/s column is the floating-point
/// operations done (16 FMAs x lanes x 2 per round) over the mean time.
/// </summary>
[Config(typeof(RateConfig))]
public class FmaPeakBenchmarks
{
    /// <summary>Rounds per thread and call.</summary>
    public const long Rounds = 1 << 20;

    /// <summary>Threads running the loop at once.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>512-bit vectors (16 floats).</summary>
    [Benchmark(Baseline = true)]
    public long Fma512() => FmaPeak.RunF32(Threads, Rounds, 512);

    /// <summary>256-bit vectors (8 floats).</summary>
    [Benchmark]
    public long Fma256() => FmaPeak.RunF32(Threads, Rounds, 256);

    /// <summary>Flops of one call, for the GFLOP/s column.</summary>
    internal static double Flops(string method, int threads) => (double)Rounds * 16 * (method == nameof(Fma512) ? 16 : 8) * 2 * threads;

    private sealed class RateConfig : BenchmarkDotNet.Configs.ManualConfig
    {
        public RateConfig() => AddColumn(new RateColumn("GFLOP/s", "flops of one call / mean time",
            c => Flops(c.Descriptor.WorkloadMethod.Name, (int)c.Parameters["Threads"]!)));
    }
}
