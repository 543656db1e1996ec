using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace PeftEngine.Benchmarks;

/// <summary>
/// How fast the cores stream memory, the bound for the products that do little arithmetic per byte (the LoRA-skinny
/// GEMMs, matrix-vector products, the optimizer): read (a sum), write (a fill) and copy over a buffer of
/// <see cref="SizeMiB"/> MiB, split in equal halves over the processor's threads (the thread pool, as the kernels
/// run). 8 MiB is the size of the operand a LoRA product streams at 512 tokens x 4096 features; 256 MiB is far
/// larger than any cache (`MemoryBandwidthBenchmarks` reads 512 MB, on one thread and on all). Run with
/// <c>dotnet run -c Release --project benchmarks/PeftEngine.Benchmarks -- --filter '*StreamBandwidth*'</c>.
/// </summary>
/// <remarks>The GB/s column counts the bytes the program reads or writes: a copy counts its source and its
/// destination once each. A write to memory not in cache also costs a read of the line (read for ownership) that
/// the column does not count.</remarks>
[Config(typeof(BytesConfig))]
public unsafe class StreamBandwidthBenchmarks
{
    private float* _a, _b;
    private long _count;
    private int _threads;

    /// <summary>Buffer size in MiB.</summary>
    [Params(8, 256)]
    public int SizeMiB { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _count = SizeMiB * (1L << 20) / sizeof(float);
        _a = (float*)NativeMemory.AlignedAlloc((nuint)(_count * sizeof(float)), 64);
        _b = (float*)NativeMemory.AlignedAlloc((nuint)(_count * sizeof(float)), 64);
        new Span<float>(_a, (int)_count).Fill(1f);
        new Span<float>(_b, (int)_count).Fill(2f);
        _threads = Environment.ProcessorCount;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_a);
        NativeMemory.AlignedFree(_b);
    }

    /// <summary>Reads the buffer once (a vectorised sum).</summary>
    [Benchmark(Baseline = true)]
    public float Read()
    {
        var sums = new float[_threads];
        ForEachPart((start, len, t) => sums[t] = TensorPrimitives.Sum(new ReadOnlySpan<float>(_a + start, len)));
        return sums.Sum();
    }

    /// <summary>Writes the buffer once (a fill).</summary>
    [Benchmark]
    public void Write() => ForEachPart((start, len, _) => new Span<float>(_b + start, len).Fill(3f));

    /// <summary>Reads one buffer and writes the other.</summary>
    [Benchmark]
    public void Copy() => ForEachPart((start, len, _) =>
        new ReadOnlySpan<float>(_a + start, len).CopyTo(new Span<float>(_b + start, len)));

    private void ForEachPart(Action<long, int, int> body)
    {
        long part = (_count + _threads - 1) / _threads;
        Parallel.For(0, _threads, new ParallelOptions { MaxDegreeOfParallelism = _threads }, t =>
        {
            long start = t * part;
            body(start, (int)Math.Min(part, _count - start), t);
        });
    }

    /// <summary>Bytes moved per call (copy: read + written) / mean time.</summary>
    private sealed class BytesConfig : ManualConfig
    {
        public BytesConfig() => AddColumn(new RateColumn("GB/s", "bytes read or written / mean time",
            c => (c.Descriptor.WorkloadMethod.Name == nameof(Copy) ? 2.0 : 1.0) * (int)c.Parameters["SizeMiB"]! * (1 << 20)));
    }
}
