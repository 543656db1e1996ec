using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace PeftEngine.Benchmarks;

/// <summary>
/// Fused (tiled, online-softmax) attention against the composite one (matmul + softmax, which stores the
/// (B, H, T, S) scores), forward alone and forward + backward, f32, B = 1, H = 8, D = 64, T = S:
/// <c>dotnet run -c Release --project benchmarks/PeftEngine.Benchmarks -- --filter '*Attention*'</c>.
/// The forward is two products of 2·B·H·T·S·D floating-point operations each (Q·Kᵀ and P·V), 4·B·H·T·S·D in
/// all, half of that under causal masking; the backward is counted as 2.5 times the forward (five products of
/// the same size), so forward + backward is 3.5 times the forward. The GFLOP/s column divides those counts by
/// the mean time; the recomputation the fused backward does is not counted.
/// </summary>
[Config(typeof(AttentionConfig))]
public class AttentionBenchmarks
{
    private const int Batch = 1, Heads = 8, HeadDim = 64;
    private Tensor _q = null!, _k = null!, _v = null!, _dOut = null!;

    /// <summary>Sequence length (queries = keys).</summary>
    [Params(512, 2048)]
    public int T { get; set; }

    /// <summary>Causal masking (half the score matrix is skipped by the fused kernel).</summary>
    [Params(false, true)]
    public bool Causal { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(7);
        Tensor Random()
        {
            var v = new double[Batch * Heads * T * HeadDim];
            for (int i = 0; i < v.Length; i++) v[i] = rng.NextDouble() * 2 - 1;
            using var t = Tensor.FromArray(v, Batch, Heads, T, HeadDim);
            return t.To(DType.F32);
        }
        _q = Random().RequireGrad();
        _k = Random().RequireGrad();
        _v = Random().RequireGrad();
        _dOut = Random();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _q, _k, _v, _dOut }) { t.ZeroGrad(); t.Dispose(); }
    }

    /// <summary>Fused forward (no graph recorded).</summary>
    [Benchmark(Baseline = true)]
    public void FusedForward()
    {
        using (GradMode.Disable())
        using (Ops.ScaledDotProductAttention(_q, _k, _v, isCausal: Causal)) { }
    }

    /// <summary>Composite forward (no graph recorded).</summary>
    [Benchmark]
    public void CompositeForward()
    {
        using (GradMode.Disable())
        using (Ops.ScaledDotProductAttentionComposite(_q, _k, _v, isCausal: Causal)) { }
    }

    /// <summary>Fused forward and backward to q, k and v.</summary>
    [Benchmark]
    public void FusedForwardBackward() => ForwardBackward(Ops.ScaledDotProductAttention);

    /// <summary>Composite forward and backward to q, k and v.</summary>
    [Benchmark]
    public void CompositeForwardBackward() => ForwardBackward(Ops.ScaledDotProductAttentionComposite);

    private void ForwardBackward(Func<Tensor, Tensor, Tensor, Tensor?, bool, double?, Tensor> attention)
    {
        using (var y = attention(_q, _k, _v, null, Causal, null))
            y.Backward(_dOut);
        _q.ZeroGrad();
        _k.ZeroGrad();
        _v.ZeroGrad();
    }

    /// <summary>Adds the GFLOP/s column.</summary>
    private sealed class AttentionConfig : ManualConfig
    {
        public AttentionConfig() => AddColumn(new GflopsColumn());
    }

    /// <summary>Counted floating-point operations (see the class summary) / mean time.</summary>
    private sealed class GflopsColumn : IColumn
    {
        public string Id => nameof(GflopsColumn);
        public string ColumnName => "GFLOP/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "4·B·H·T·S·D (halved if causal; x3.5 with backward) / mean time";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var stats = summary[benchmarkCase]?.ResultStatistics;
            if (stats is null || benchmarkCase.Parameters["T"] is not int t || benchmarkCase.Parameters["Causal"] is not bool causal)
                return "NA";
            double flops = 4.0 * Batch * Heads * t * t * HeadDim * (causal ? 0.5 : 1.0);
            if (benchmarkCase.Descriptor.WorkloadMethod.Name.EndsWith("Backward")) flops *= 3.5;
            return (flops / stats.Mean).ToString("F1"); // flop per ns = GFLOP/s
        }
    }
}
