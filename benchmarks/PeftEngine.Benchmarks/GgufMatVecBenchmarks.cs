using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using PeftEngine.IO.Gguf;
using PeftEngine.Quant;

namespace PeftEngine.Benchmarks;

/// <summary>
/// Batch-1 products y = x · Wᵀ as in generation, with W in F32 (the engine's Linear) or packed ggml blocks
/// (int8 activations, integer block dot products). The GB/s column is the weight bytes read per second, to compare
/// with <see cref="MemoryBandwidthBenchmarks"/>: a matrix-vector product is bound by reading W once.
/// </summary>
[Config(typeof(WeightBytesConfig))]
public class GgufMatVecBenchmarks
{
    /// <summary>Weight shape (out x in): a 7B model's attention projection and its FFN up/gate projection.</summary>
    [Params("4096x4096", "11008x4096")]
    public string Size { get; set; } = "4096x4096";

    /// <summary>Weight storage: F32 or a ggml block type.</summary>
    [Params("F32", "Q8_0", "Q4_0", "Q4_K")]
    public string Format { get; set; } = "F32";

    private Tensor? _x, _w;
    private GgmlPackedWeight? _packed;
    private float[] _xs = [], _y = [];

    [GlobalSetup]
    public void Setup()
    {
        var (rows, cols) = Dims(Size);
        _x = Tensor.Randn(new Shape(1, cols), generator: new Generator(1));
        _xs = _x.ToFloatArray();
        _y = new float[rows];
        if (Format == "F32") { _w = Tensor.Randn(new Shape(rows, cols), generator: new Generator(2)); return; }
        var type = Enum.Parse<GgmlType>(Format);
        var (size, bytes) = GgmlPackedWeight.Geometry(type);
        var data = new byte[(long)rows * cols / size * bytes];
        new System.Random(3).NextBytes(data);
        for (long at = 0; at < data.Length; at += bytes)   // small finite float16 scales
        {
            data[at] = 0x00; data[at + 1] = 0x20;
            if (type == GgmlType.Q4_K) { data[at + 2] = 0x00; data[at + 3] = 0x1C; }
        }
        _packed = GgmlPackedWeight.FromBlocks(type, rows, cols, data);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _x?.Dispose();
        _w?.Dispose();
        _packed?.Dispose();
    }

    /// <summary>One matrix-vector product.</summary>
    [Benchmark]
    public void MatVec()
    {
        if (_packed is not null) GgmlPackedProducts.MatVec(_xs, 1, _packed, _y);
        else { using var y = Ops.Linear(_x!, _w!); }
    }

    internal static (int Rows, int Cols) Dims(string size)
    {
        var p = size.Split('x');
        return (int.Parse(p[0]), int.Parse(p[1]));
    }

    private static double WeightBytes(BenchmarkCase bc)
    {
        var (rows, cols) = Dims((string)bc.Parameters["Size"]);
        string format = (string)bc.Parameters["Format"];
        if (format == "F32") return 4.0 * rows * cols;
        var (size, bytes) = GgmlPackedWeight.Geometry(Enum.Parse<GgmlType>(format));
        return (double)rows * cols / size * bytes;
    }

    private sealed class WeightBytesConfig : ManualConfig
    {
        public WeightBytesConfig() => AddColumn(new ThroughputColumn("GB/s", WeightBytes, scale: 1e9));
    }
}

/// <summary>The machine's streaming read bandwidth: the sum of a 512 MB F32 array (far beyond every cache), on one
/// thread and on every core (each thread sums a contiguous part).</summary>
[Config(typeof(SumBytesConfig))]
public class MemoryBandwidthBenchmarks
{
    private const long N = 1L << 27;   // 128 Mi floats = 512 MB
    private float[] _data = [];

    [GlobalSetup]
    public void Setup()
    {
        _data = GC.AllocateUninitializedArray<float>((int)N);
        new Span<float>(_data).Fill(1f);
    }

    /// <summary>Sum on one thread.</summary>
    [Benchmark]
    public float SumOneThread() => TensorPrimitives.Sum(_data);

    /// <summary>Sum split over all cores.</summary>
    [Benchmark]
    public float SumAllThreads()
    {
        int parts = Environment.ProcessorCount;
        var partial = new float[parts];
        Parallel.For(0, parts, p =>
        {
            long chunk = N / parts;
            partial[p] = TensorPrimitives.Sum(new ReadOnlySpan<float>(_data, (int)(p * chunk), (int)chunk));
        });
        return partial.Sum();
    }

    private sealed class SumBytesConfig : ManualConfig
    {
        public SumBytesConfig() => AddColumn(new ThroughputColumn("GB/s", _ => 4.0 * N, scale: 1e9));
    }
}
