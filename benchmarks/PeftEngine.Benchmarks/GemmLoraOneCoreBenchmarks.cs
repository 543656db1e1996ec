using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using PeftEngine.Cpu;

namespace PeftEngine.Benchmarks;

/// <summary>
/// The rate of the LoRA kernels themselves, apart from the memory system: rank 8, width 4096, on one thread, with 32
/// tokens (x is 512 KiB and stays in L2) against 512 (x is 8 MiB). Compare with <see cref="FmaPeakBenchmarks"/> on one
/// thread. <c>--filter '*GemmLoraOneCore*'</c>; GFLOP/s = 2·m·k·n / mean time.
/// </summary>
[Config(typeof(OneCoreConfig))]
public class GemmLoraOneCoreBenchmarks
{
    private Tensor _x = null!, _a = null!, _h = null!, _dA = null!;
    private int _threads;

    /// <summary>Tokens (rows of x).</summary>
    [Params(32, 512)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _threads = CpuParallel.Threads;
        CpuParallel.Threads = 1;
        _x = GemmData.Random(1, DType.F32, 1, Tokens, 4096);
        _a = GemmData.Random(2, DType.F32, 1, 8, 4096);
        _h = GemmData.Random(4, DType.F32, 1, Tokens, 8);
        _dA = Tensor.Empty(new Shape(1, 8, 4096));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        CpuParallel.Threads = _threads;
        foreach (var t in new[] { _x, _a, _h, _dA }) t.Dispose();
    }

    /// <summary>h = x · Aᵀ (the dot form).</summary>
    [Benchmark(Baseline = true)]
    public void Down() => CpuBackend.Instance.Gemm(_x, _a, _h, false, true);

    /// <summary>dA = dhᵀ · x (the row form).</summary>
    [Benchmark]
    public void GradA() => CpuBackend.Instance.Gemm(_h, _x, _dA, true, false);

    private sealed class OneCoreConfig : ManualConfig
    {
        public OneCoreConfig() => AddColumn(new RateColumn("GFLOP/s", "2·m·k·n / mean time",
            c => 2.0 * (int)c.Parameters["Tokens"]! * 4096 * 8));
    }
}
