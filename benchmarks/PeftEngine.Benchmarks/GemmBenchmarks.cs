using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using PeftEngine.Cpu;

namespace PeftEngine.Benchmarks;

/// <summary>
/// The CPU GEMM on square n x n matrices: <c>dotnet run -c Release --project benchmarks/PeftEngine.Benchmarks --
/// --filter '*GemmBenchmarks*'</c>. A product of two n x n matrices is n³ multiply-adds, 2n³ floating-point operations,
/// so the throughput is GFLOP/s = 2n³ / time (in ns); the GFLOP/s column reports exactly that. Compare it with
/// the machine's peak measured by <see cref="FmaPeakBenchmarks"/> (a register-only FMA loop); a plain triple loop
/// reaches about 1.
/// </summary>
[Config(typeof(GflopsConfig))]
public class GemmBenchmarks
{
    private Tensor _a = null!, _b = null!, _c = null!, _a64 = null!, _b64 = null!, _c64 = null!, _b16 = null!;

    /// <summary>Matrix size: (n, n) · (n, n).</summary>
    [Params(256, 512, 1024, 2048)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _a = GemmData.Random(1, DType.F32, 1, N, N);
        _b = GemmData.Random(2, DType.F32, 1, N, N);
        _b16 = GemmData.Random(2, DType.BF16, 1, N, N);
        _c = Tensor.Empty(new Shape(1, N, N), DType.F32);
        _a64 = GemmData.Random(1, DType.F64, 1, N, N);
        _b64 = GemmData.Random(2, DType.F64, 1, N, N);
        _c64 = Tensor.Empty(new Shape(1, N, N), DType.F64);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _a, _b, _c, _a64, _b64, _c64, _b16 }) t.Dispose();
    }

    /// <summary>C = A · B in f32, both row-major.</summary>
    [Benchmark(Baseline = true)]
    public void GemmF32() => CpuBackend.Instance.Gemm(_a, _b, _c, false, false);

    /// <summary>C = A · Bᵀ in f32: the layout of a Linear layer, x · Wᵀ with W stored (out, in).</summary>
    [Benchmark]
    public void GemmF32TransposedB() => CpuBackend.Instance.Gemm(_a, _b, _c, false, true);

    /// <summary>C = A · Wᵀ with W stored in bf16 (a frozen base weight), widened while packing; f32 result.</summary>
    [Benchmark]
    public void GemmBf16Weight() => CpuBackend.Instance.Gemm(_a, _b16, _c, false, true);

    /// <summary>C = A · B in f64.</summary>
    [Benchmark]
    public void GemmF64() => CpuBackend.Instance.Gemm(_a64, _b64, _c64, false, false);

    private sealed class GflopsConfig : ManualConfig
    {
        public GflopsConfig() => AddColumn(new RateColumn("GFLOP/s", "2·N³ floating-point operations / mean time",
            c => 2.0 * Math.Pow((int)c.Parameters["N"]!, 3)));
    }
}

/// <summary>
/// The skinny products of a LoRA adapter of rank r on 512 tokens of a width-4096 layer (f32, as in training), with
/// x (512, 4096), the adapter's A (r, 4096) and B (4096, r), h = x · Aᵀ (512, r) and dy (512, 4096):
/// <list type="bullet">
/// <item>Down: h = x · Aᵀ, m = 512, k = 4096, n = r;</item>
/// <item>Up: y = h · Bᵀ, m = 512, k = r, n = 4096 (short k: C is written once per r multiply-adds);</item>
/// <item>GradA: dA = dhᵀ · x, m = r, k = 512, n = 4096;</item>
/// <item>GradB: dB = dyᵀ · h, m = 4096, k = 512, n = r.</item>
/// </list>
/// <c>--filter '*GemmLoraBenchmarks*'</c>; GFLOP/s = 2·m·k·n / mean time.
/// </summary>
[Config(typeof(LoraConfig))]
public class GemmLoraBenchmarks
{
    private Tensor _x = null!, _a = null!, _b = null!, _h = null!, _dy = null!, _y = null!, _dA = null!, _dB = null!;

    /// <summary>The adapter's rank.</summary>
    [Params(8, 16, 64)]
    public int Rank { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _x = GemmData.Random(1, DType.F32, 1, 512, 4096);
        _a = GemmData.Random(2, DType.F32, 1, Rank, 4096);
        _b = GemmData.Random(3, DType.F32, 1, 4096, Rank);
        _h = GemmData.Random(4, DType.F32, 1, 512, Rank);
        _dy = GemmData.Random(5, DType.F32, 1, 512, 4096);
        _y = Tensor.Empty(new Shape(1, 512, 4096));
        _dA = Tensor.Empty(new Shape(1, Rank, 4096));
        _dB = Tensor.Empty(new Shape(1, 4096, Rank));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _x, _a, _b, _h, _dy, _y, _dA, _dB }) t.Dispose();
    }

    /// <summary>h = x · Aᵀ: (512, 4096) · (4096, r).</summary>
    [Benchmark(Baseline = true)]
    public void Down() => CpuBackend.Instance.Gemm(_x, _a, _h, false, true);

    /// <summary>y = h · Bᵀ: (512, r) · (r, 4096).</summary>
    [Benchmark]
    public void Up() => CpuBackend.Instance.Gemm(_h, _b, _y, false, true);

    /// <summary>dA = dhᵀ · x: (r, 512) · (512, 4096).</summary>
    [Benchmark]
    public void GradA() => CpuBackend.Instance.Gemm(_h, _x, _dA, true, false);

    /// <summary>dB = dyᵀ · h: (4096, 512) · (512, r).</summary>
    [Benchmark]
    public void GradB() => CpuBackend.Instance.Gemm(_dy, _h, _dB, true, false);

    private sealed class LoraConfig : ManualConfig
    {
        public LoraConfig() => AddColumn(new RateColumn("GFLOP/s", "2·m·k·n / mean time",
            c => 2.0 * 512 * 4096 * (int)c.Parameters["Rank"]!));
    }
}

/// <summary>
/// A 4096 x 4096 f32 matrix times a vector, which reads each of the matrix's 64 MiB once for one multiply-add per
/// element: its speed is memory bandwidth, reported as GB/s of the matrix read, next to a copy of the same 64 MiB
/// (GB/s counting the bytes read and written) as the baseline of what the memory delivers.
/// <c>--filter '*GemmMatVecBenchmarks*'</c>.
/// </summary>
[Config(typeof(BandwidthConfig))]
public class GemmMatVecBenchmarks
{
    private const int Size = 4096;
    private const double MatrixBytes = 4.0 * Size * Size;
    private Tensor _m = null!, _v = null!, _y = null!, _copy = null!;

    [GlobalSetup]
    public void Setup()
    {
        _m = GemmData.Random(1, DType.F32, 1, Size, Size);
        _v = GemmData.Random(2, DType.F32, 1, Size, 1);
        _y = Tensor.Empty(new Shape(1, Size, 1));
        _copy = Tensor.Empty(new Shape(1, Size, Size));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _m, _v, _y, _copy }) t.Dispose();
    }

    /// <summary>Copies the 64 MiB matrix with the backend's (parallel) copy: the bandwidth baseline.</summary>
    [Benchmark(Baseline = true)]
    public void Copy() => CpuBackend.Instance.Copy(_m, _copy);

    /// <summary>y = M · v with M row-major: one dot product per row.</summary>
    [Benchmark]
    public void MatVec() => CpuBackend.Instance.Gemm(_m, _v, _y, false, false);

    /// <summary>y = Mᵀ · v with M row-major: columns of Mᵀ are contiguous, so y accumulates v[p] times each one.</summary>
    [Benchmark]
    public void MatVecTransposed() => CpuBackend.Instance.Gemm(_m, _v, _y, true, false);

    private sealed class BandwidthConfig : ManualConfig
    {
        public BandwidthConfig() => AddColumn(new RateColumn("GB/s", "bytes moved (copy: read + written; matvec: matrix read) / mean time",
            c => c.Descriptor.WorkloadMethod.Name == nameof(Copy) ? 2 * MatrixBytes : MatrixBytes));
    }
}

/// <summary>Seeded random operands for the GEMM benchmarks.</summary>
internal static class GemmData
{
    public static Tensor Random(int seed, DType dtype, params int[] dims)
    {
        var rng = new Random(seed);
        var shape = new Shape(dims);
        var v = new double[shape.Numel];
        for (int i = 0; i < v.Length; i++) v[i] = rng.NextDouble() * 2 - 1;
        using var t = Tensor.FromArray(v, dims);
        return t.To(dtype);
    }
}

/// <summary>A column with a rate: the amount of work of one call (flops, bytes), given by a function of the case,
/// divided by the mean time in nanoseconds, which gives giga-units per second.</summary>
internal sealed class RateColumn(string name, string legend, Func<BenchmarkCase, double> work) : IColumn
{
    public string Id => nameof(RateColumn) + name;
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => legend;
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        return stats is null ? "NA" : (work(benchmarkCase) / stats.Mean).ToString("F1"); // units per ns = G units/s
    }
}
