using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace PeftEngine.Benchmarks;

/// <summary>
/// A full training step of the transformer block of <see cref="TransformerBlockBenchmarks"/>: forward, backward
/// from a fixed output gradient, then one fused AdamW update of every parameter (7.1 M of them at C = 768). Also
/// the AdamW update alone, to show what the optimizer costs within the step. tokens/s = B·T / mean time. Run with
/// <c>dotnet run -c Release --project benchmarks/PeftEngine.Benchmarks -- --filter '*TrainingStep*'</c>.
/// </summary>
[Config(typeof(TransformerBlockBenchmarks.TokensConfig))]
[MemoryDiagnoser]
public class TrainingStepBenchmarks
{
    private TransformerBlock _block = null!;
    private Tensor _x = null!, _dy = null!;
    private Tensor[] _params = null!, _grads = null!, _expAvg = null!, _expAvgSq = null!;
    private long _step;

    [Params(1)]
    public int B { get; set; }

    [Params(256)]
    public int T { get; set; }

    [Params(768)]
    public int C { get; set; }

    [Params(12)]
    public int Heads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _block = new TransformerBlock(C, Heads, trainable: true);
        var gen = new Generator(7);
        _x = Tensor.Randn(new Shape(B, T, C), gen);
        _dy = Tensor.Randn(new Shape(B, T, C), gen);
        _params = _block.Parameters;
        _grads = _params.Select(p => Ops.Mul(Tensor.RandnLike(p, gen), 1e-3)).ToArray();
        _expAvg = _params.Select(Tensor.ZerosLike).ToArray();
        _expAvgSq = _params.Select(Tensor.ZerosLike).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _block.Dispose();
        foreach (var t in _grads.Concat(_expAvg).Concat(_expAvgSq).Append(_x).Append(_dy)) t.Dispose();
    }

    [Benchmark(Baseline = true, Description = "forward + backward + AdamW")]
    public void TrainingStep()
    {
        using (var scope = TensorScope.Begin())
        {
            var y = _block.Forward(_x);
            Engine.Backward(y, _dy);
            Step(p => p.Grad!);
            foreach (var p in _params) p.Grad = null;   // zero_grad(set_to_none=True); the scope frees them
        }
    }

    [Benchmark(Description = "AdamW step alone (all parameters)")]
    public void AdamWOnly() => Step(p => _grads[Array.IndexOf(_params, p)]);

    private void Step(Func<Tensor, Tensor> gradOf)
    {
        _step++;
        using var noGrad = GradMode.Disable();
        for (int i = 0; i < _params.Length; i++)
            Ops.AdamWStepInPlace(_params[i], gradOf(_params[i]), _expAvg[i], _expAvgSq[i], lr: 1e-4,
                weightDecay: 0.1, step: _step);
    }
}
