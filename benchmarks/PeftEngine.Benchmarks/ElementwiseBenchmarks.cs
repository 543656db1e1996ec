using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace PeftEngine.Benchmarks;

/// <summary>
/// Elementwise kernels on 4M f32 elements (16 MiB per tensor, larger than the caches), against a plain copy of the
/// same tensor as the bandwidth baseline, plus bulk BF16 ↔ F32 conversion. The GB/s column counts the bytes each
/// call reads and writes (a unary f32 op: 8 bytes per element, Add: 12, a conversion: 6) over the mean time; the
/// Ratio column compares each time with the copy. A memory-bound kernel at ratio ≈ 1 (or ≈ 1.5 for Add) runs at
/// copy speed; a higher ratio means the arithmetic (exp, erf, tanh…) and not memory limits it. Run with
/// <c>dotnet run -c Release --project benchmarks/PeftEngine.Benchmarks -- --filter '*Elementwise*'</c>.
/// </summary>
[Config(typeof(BytesConfig))]
[MemoryDiagnoser]
public class ElementwiseBenchmarks
{
    private Tensor _x = null!, _y = null!, _bf16 = null!;

    [Params(4 * 1024 * 1024)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var gen = new Generator(3);
        _x = Tensor.Randn(new Shape(N), gen);
        _y = Tensor.Randn(new Shape(N), gen);
        _bf16 = _x.To(DType.BF16);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _x.Dispose();
        _y.Dispose();
        _bf16.Dispose();
    }

    [Benchmark(Baseline = true, Description = "copy")]
    public void Copy()
    {
        using var y = Ops.Clone(_x);
    }

    [Benchmark(Description = "gelu (erf)")]
    public void Gelu()
    {
        using var y = Ops.Gelu(_x);
    }

    [Benchmark(Description = "gelu (tanh)")]
    public void GeluTanh()
    {
        using var y = Ops.Gelu(_x, "tanh");
    }

    [Benchmark(Description = "silu")]
    public void Silu()
    {
        using var y = Ops.Silu(_x);
    }

    [Benchmark(Description = "exp")]
    public void Exp()
    {
        using var y = Ops.Exp(_x);
    }

    [Benchmark(Description = "add")]
    public void Add()
    {
        using var y = Ops.Add(_x, _y);
    }

    [Benchmark(Description = "f32 -> bf16")]
    public void ToBf16()
    {
        using var y = _x.To(DType.BF16);
    }

    [Benchmark(Description = "bf16 -> f32")]
    public void FromBf16()
    {
        using var y = _bf16.To(DType.F32);
    }

    /// <summary>Bytes one call reads and writes, per element, for each benchmark.</summary>
    private static double BytesPerElement(BenchmarkCase bc) => bc.Descriptor.WorkloadMethod.Name switch
    {
        nameof(Add) => 12,
        nameof(ToBf16) or nameof(FromBf16) => 6,
        _ => 8,
    };

    private sealed class BytesConfig : ManualConfig
    {
        public BytesConfig() => AddColumn(new ThroughputColumn("GB/s",
            bc => BytesPerElement(bc) * Convert.ToDouble(bc.Parameters["N"]), scale: 1e9));
    }
}
