using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using PeftEngine.Cpu;

namespace PeftEngine.Benchmarks;

/// <summary>
/// The thin SVD (U, S, Vᵀ) of a square random f64 matrix by the two CPU kernels:
/// <c>dotnet run -c Release --project benchmarks/PeftEngine.Benchmarks -- --filter '*SvdBenchmarks*' --job short</c>.
/// Golub–Kahan (blocked bidiagonalization + bidiagonal QR) is what <c>Linalg.Svd</c> runs from n = 192 on; one-sided
/// Jacobi below that. Jacobi is left out at 4096 (it takes many minutes there). A single run of a few seconds per
/// call is enough: the benchmark uses one invocation per iteration.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3)]
public unsafe class SvdBenchmarks
{
    private double[] _a = null!, _u = null!, _s = null!, _vh = null!;

    /// <summary>Matrix size (n, n).</summary>
    [Params(256, 1024, 4096)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _a = new double[(long)N * N];
        for (long i = 0; i < _a.Length; i++) _a[i] = rng.NextDouble() * 2 - 1;
        _u = new double[(long)N * N];
        _s = new double[N];
        _vh = new double[(long)N * N];
    }

    /// <summary>Golub–Kahan with U and Vᵀ.</summary>
    [Benchmark(Baseline = true)]
    public void GolubKahan()
    {
        fixed (double* pa = _a, pu = _u, ps = _s, pv = _vh) GolubKahanSvd.Decompose(pa, N, N, pu, ps, pv);
    }

    /// <summary>QR-preconditioned one-sided Jacobi with U and Vᵀ (skipped at 4096).</summary>
    [Benchmark]
    public void Jacobi()
    {
        if (N > 1024) return;
        fixed (double* pa = _a, pu = _u, ps = _s, pv = _vh) JacobiSvd.Decompose(pa, N, N, pu, ps, pv);
    }
}
