using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using PeftEngine.Cpu;

namespace PeftEngine.Benchmarks;

/// <summary>
/// The GEMM's ceiling without its driver: the 12 x 32 f32 micro-kernel (<c>GemmKernel12</c> over 512-bit vectors)
/// run over already-packed panels that stay in cache, as the innermost two loops of the blocked GEMM run them:
/// one kc x 32 B panel against the A panels of one mc x kc A block of about 256 KiB, writing an mc x 32 tile of C.
/// kc = 768 is the driver's depth (B panel 96 KiB in L2, A panel 36 KiB in L1, 7 A panels); kc = 256 its earlier
/// one (B panel 32 KiB in L1, 21 A panels). No packing, no C traffic beyond the tile, no synchronisation. Each thread runs its own
/// copy. Comparing its GFLOP/s with <c>FmaPeakBenchmarks</c> shows what the micro-kernel itself loses; comparing
/// it with <c>GemmBenchmarks</c> shows what packing, C traffic and threading lose. Run with
/// <c>dotnet run -c Release --project benchmarks/PeftEngine.Benchmarks -- --filter '*GemmMicroKernel*'</c>.
/// </summary>
[Config(typeof(FlopsConfig))]
public unsafe class GemmMicroKernelBenchmarks
{
    private const int Mr = 12, Nr = 32, Rounds = 64;
    private float*[] _a = [], _b = [], _c = [];

    /// <summary>Depth of the packed panels.</summary>
    [Params(256, 768)]
    public int Kc { get; set; }

    /// <summary>A panels per block: mc = 262144 / (4 kc) rounded down to whole panels (21 and 7: the same flops).</summary>
    private int Panels => 262144 / (4 * Kc) / Mr;

    /// <summary>Threads, each with its own panels.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        if (!Vector512.IsHardwareAccelerated) throw new NotSupportedException("GemmMicroKernelBenchmarks needs AVX-512");
        _a = new float*[Threads];
        _b = new float*[Threads];
        _c = new float*[Threads];
        var rng = new Random(3);
        for (int t = 0; t < Threads; t++)
        {
            _a[t] = Alloc(Panels * Mr * Kc, rng);
            _b[t] = Alloc(Kc * Nr, rng);
            _c[t] = Alloc(Panels * Mr * Nr, rng);
        }
    }

    private static float* Alloc(int count, Random rng)
    {
        var p = (float*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(float)), 64);
        for (int i = 0; i < count; i++) p[i] = (float)(rng.NextDouble() - 0.5);
        return p;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        for (int t = 0; t < Threads; t++)
        {
            NativeMemory.AlignedFree(_a[t]);
            NativeMemory.AlignedFree(_b[t]);
            NativeMemory.AlignedFree(_c[t]);
        }
    }

    /// <summary><see cref="Rounds"/> passes of the B panel over the A block, on each thread.</summary>
    [Benchmark]
    public void Kernel12x32()
    {
        if (Threads == 1) Run(0);
        else Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, Run);
    }

    private void Run(int t)
    {
        float* a = _a[t], b = _b[t], c = _c[t];
        for (int round = 0; round < Rounds; round++)
            for (int i = 0; i < Panels; i++)
                GemmKernel12<GemmVector512<float>, Vector512<float>, float>.Run(Kc, a + i * Mr * Kc, b, c + i * Mr * Nr, Nr, 1f, 0f, null, stream: false);
    }

    /// <summary>Flops of one call: 2·MR·NR·kc per kernel call.</summary>
    private sealed class FlopsConfig : ManualConfig
    {
        public FlopsConfig() => AddColumn(new RateColumn("GFLOP/s", "flops of one call / mean time",
            c => 2.0 * Mr * Nr * Rounds * (int)c.Parameters["Threads"]! * (int)c.Parameters["Kc"]! * (262144 / (4 * (int)c.Parameters["Kc"]!) / Mr)));
    }
}
