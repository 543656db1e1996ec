using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace PeftEngine.Benchmarks;

/// <summary>
/// How the order of the accesses changes the rate at which two cores read or write one LoRA operand (512 x 4096 f32,
/// 8 MiB), with no arithmetic: the bound for products that move that operand once.
/// <list type="bullet">
/// <item>Write: whole rows (each thread its half of the rows); tiles of 4 rows x 512 bytes (the outer form's stores);
/// tiles of 12 rows x 128 bytes (the blocked micro-kernel's 12 x 32 tile); the last two also with non-temporal
/// stores, which skip reading each line before it is overwritten.</item>
/// <item>Read: whole rows per thread (the dot form of x · Aᵀ for more than 8 columns) and bands of 1024 columns over
/// all rows (the row form of dA = dhᵀ · x; the dot form at r ≤ 8 reads 1024-column stretches of 24 rows at a
/// time).</item>
/// </list>
/// <c>--filter '*MemoryPattern*'</c>; GB/s = 8 MiB / mean time.
/// </summary>
[Config(typeof(BytesConfig))]
public unsafe class MemoryPatternBenchmarks
{
    private const int Rows = 512, Cols = 4096;
    private float* _x;

    [GlobalSetup]
    public void Setup()
    {
        _x = (float*)NativeMemory.AlignedAlloc((nuint)((long)Rows * Cols * sizeof(float)), 64);
        new Span<float>(_x, Rows * Cols).Fill(1f);
    }

    [GlobalCleanup]
    public void Cleanup() => NativeMemory.AlignedFree(_x);

    [Benchmark(Baseline = true)]
    public void WriteRows() => WriteTiles(1, Cols, streamed: false);

    [Benchmark]
    public void WriteTiles4x512B() => WriteTiles(4, 128, streamed: false);

    [Benchmark]
    public void WriteTiles12x128B() => WriteTiles(12, 32, streamed: false);

    [Benchmark]
    public void WriteTiles4x512BStreamed() => WriteTiles(4, 128, streamed: true);

    [Benchmark]
    public void WriteTiles12x128BStreamed() => WriteTiles(12, 32, streamed: true);

    [Benchmark]
    public float ReadRows()
    {
        var sums = new float[2];
        Parallel.For(0, 2, t =>
        {
            var acc = Vector512<float>.Zero;
            for (int i = Rows * t / 2; i < Rows * (t + 1) / 2; i++) acc += Sum(_x + (long)i * Cols, Cols);
            sums[t] = Vector512.Sum(acc);
        });
        return sums[0] + sums[1];
    }

    [Benchmark]
    public float ReadBands()
    {
        const int band = 1024, bands = Cols / band;
        var sums = new float[2];
        Parallel.For(0, 2, t =>
        {
            var acc = Vector512<float>.Zero;
            for (int b = bands * t / 2; b < bands * (t + 1) / 2; b++)
                for (int i = 0; i < Rows; i++) acc += Sum(_x + (long)i * Cols + b * band, band);
            sums[t] = Vector512.Sum(acc);
        });
        return sums[0] + sums[1];
    }

    /// <summary>Each thread writes its half of the row panels (tileRows rows each) as tiles tileRows x tileCols,
    /// a panel's tiles left to right, each tile row by row.</summary>
    private void WriteTiles(int tileRows, int tileCols, bool streamed)
    {
        int panels = Rows / tileRows;   // 512 / 12 leaves 8 rows unwritten: the rate below counts the rows written
        var v = Vector512.Create(2f);
        Parallel.For(0, 2, t =>
        {
            for (int p = panels * t / 2; p < panels * (t + 1) / 2; p++)
                for (int j = 0; j < Cols; j += tileCols)
                    for (int r = 0; r < tileRows; r++)
                    {
                        float* q = _x + (long)(p * tileRows + r) * Cols + j;
                        for (int e = 0; e < tileCols; e += 16)
                            if (streamed) v.StoreAlignedNonTemporal(q + e);
                            else v.StoreAligned(q + e);
                    }
        });
    }

    private static Vector512<float> Sum(float* p, int n)
    {
        Vector512<float> a0 = Vector512<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < n; i += 64)
        {
            a0 += Vector512.Load(p + i); a1 += Vector512.Load(p + i + 16);
            a2 += Vector512.Load(p + i + 32); a3 += Vector512.Load(p + i + 48);
        }
        return a0 + a1 + a2 + a3;
    }

    /// <summary>GB/s of the bytes each case reads or writes.</summary>
    private sealed class BytesConfig : ManualConfig
    {
        public BytesConfig() => AddColumn(new RateColumn("GB/s", "bytes read or written / mean time", c =>
        {
            int rows = c.Descriptor.WorkloadMethod.Name.Contains("12x") ? Rows / 12 * 12 : Rows;
            return (double)rows * Cols * sizeof(float);
        }));
    }
}
