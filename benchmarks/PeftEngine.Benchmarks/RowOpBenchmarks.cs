using BenchmarkDotNet.Attributes;

namespace PeftEngine.Benchmarks;

/// <summary>
/// Memory-bound row ops on a (tokens, hidden) activation: softmax, layer norm, RMS norm, an elementwise add with
/// a broadcast bias, and cross-entropy over a vocabulary. Bytes moved per call divided by the time gives the
/// achieved bandwidth; the baseline is a plain contiguous copy of the same tensor measured in the same run.
/// </summary>
[MemoryDiagnoser]
public class RowOpBenchmarks
{
    private Tensor _x = null!, _bias = null!, _gamma = null!, _beta = null!, _logits = null!, _targets = null!;

    [Params(512)]
    public int Tokens { get; set; }

    [Params(768)]
    public int Hidden { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var gen = new Generator(1);
        _x = Tensor.Randn(new Shape(Tokens, Hidden), gen);
        _bias = Tensor.Randn(new Shape(Hidden), gen);
        _gamma = Tensor.Ones(new Shape(Hidden));
        _beta = Tensor.Zeros(new Shape(Hidden));
        _logits = Tensor.Randn(new Shape(Tokens, 8192), gen);
        var t = new long[Tokens];
        for (int i = 0; i < Tokens; i++) t[i] = (i * 7919) % 8192;
        _targets = Tensor.FromArray(t);
    }

    [Benchmark(Baseline = true, Description = "copy (bandwidth reference)")]
    public void Copy()
    {
        using var y = Ops.Clone(_x);
    }

    [Benchmark(Description = "x + bias (broadcast)")]
    public void AddBias()
    {
        using var y = Ops.Add(_x, _bias);
    }

    [Benchmark(Description = "softmax(-1)")]
    public void Softmax()
    {
        using var y = Ops.Softmax(_x, -1);
    }

    [Benchmark(Description = "layer_norm")]
    public void LayerNorm()
    {
        using var y = Ops.LayerNorm(_x, null, _gamma, _beta);
    }

    [Benchmark(Description = "rms_norm")]
    public void RmsNorm()
    {
        using var y = Ops.RmsNorm(_x, _gamma);
    }

    [Benchmark(Description = "cross_entropy (vocab 8192)")]
    public void CrossEntropy()
    {
        using var y = Ops.CrossEntropy(_logits, _targets);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _x, _bias, _gamma, _beta, _logits, _targets }) t.Dispose();
    }
}
