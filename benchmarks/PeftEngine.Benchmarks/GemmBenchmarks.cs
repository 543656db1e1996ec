using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using PeftEngine.Cpu;

namespace PeftEngine.Benchmarks;

/// <summary>
/// The CPU GEMM on square n x n matrices: <c>dotnet run -c Release --project benchmarks/PeftEngine.Benchmarks --
/// --filter '*Gemm*'</c>. A product of two n x n matrices is n³ multiply-adds, 2n³ floating-point operations,
/// so the throughput is GFLOP/s = 2n³ / time (in ns); the GFLOP/s column reports exactly that. Compare it with
/// the machine's peak: cores x clock x FMA units x lanes x 2 (e.g. 2 cores x 3 GHz x 2 x 16 floats x 2 = 384 for
/// AVX-512 f32); a plain triple loop reaches about 1.
/// </summary>
[Config(typeof(GflopsConfig))]
public class GemmBenchmarks
{
    private Tensor _a = null!, _b = null!, _c = null!, _a64 = null!, _b64 = null!, _c64 = null!;

    /// <summary>Matrix size: (n, n) · (n, n).</summary>
    [Params(256, 512, 1024)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        Tensor Random(DType dtype)
        {
            var v = new double[N * N];
            for (int i = 0; i < v.Length; i++) v[i] = rng.NextDouble() * 2 - 1;
            using var t = Tensor.FromArray(v, 1, N, N);
            return t.To(dtype);
        }
        _a = Random(DType.F32);
        _b = Random(DType.F32);
        _c = Tensor.Empty(new Shape(1, N, N), DType.F32);
        _a64 = Random(DType.F64);
        _b64 = Random(DType.F64);
        _c64 = Tensor.Empty(new Shape(1, N, N), DType.F64);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _a, _b, _c, _a64, _b64, _c64 }) t.Dispose();
    }

    /// <summary>C = A · B in f32, both row-major.</summary>
    [Benchmark(Baseline = true)]
    public void GemmF32() => CpuBackend.Instance.Gemm(_a, _b, _c, false, false);

    /// <summary>C = A · Bᵀ in f32: the layout of a Linear layer, x · Wᵀ with W stored (out, in).</summary>
    [Benchmark]
    public void GemmF32TransposedB() => CpuBackend.Instance.Gemm(_a, _b, _c, false, true);

    /// <summary>C = A · B in f64.</summary>
    [Benchmark]
    public void GemmF64() => CpuBackend.Instance.Gemm(_a64, _b64, _c64, false, false);

    /// <summary>Adds the GFLOP/s column.</summary>
    private sealed class GflopsConfig : ManualConfig
    {
        public GflopsConfig() => AddColumn(new GflopsColumn());
    }

    /// <summary>2n³ / mean time: the floating-point operations of an n x n x n product per nanosecond.</summary>
    private sealed class GflopsColumn : IColumn
    {
        public string Id => nameof(GflopsColumn);
        public string ColumnName => "GFLOP/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "2·N³ floating-point operations / mean time";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var stats = summary[benchmarkCase]?.ResultStatistics;
            if (stats is null || benchmarkCase.Parameters["N"] is not int n) return "NA";
            return (2.0 * n * n * n / stats.Mean).ToString("F1"); // flop per ns = GFLOP/s
        }
    }
}
