using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace PeftEngine.Benchmarks;

/// <summary>
/// A full training step of the transformer block of <see cref="TransformerBlockBenchmarks"/>: forward, backward
/// from a fixed output gradient, then one fused AdamW update of every parameter (7.1 M of them at C = 768). Also
/// the AdamW update alone, to show what the optimizer costs within the step, and the same update composed of
/// separate ops, to show what fusing it saves. tokens/s = B·T / mean time. Run with
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

    /// <summary>The same AdamW update written with separate in-place and out-of-place ops, as an optimizer
    /// without a fused kernel would do it: about ten passes over memory and four temporaries per parameter.</summary>
    [Benchmark(Description = "AdamW from separate ops (unfused)")]
    public void AdamWUnfused()
    {
        _step++;
        const double lr = 1e-4, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.1;
        double bc1 = 1 - Math.Pow(beta1, _step), bc2 = 1 - Math.Pow(beta2, _step);
        using var noGrad = GradMode.Disable();
        for (int i = 0; i < _params.Length; i++)
        {
            Tensor p = _params[i], g = _grads[i], m = _expAvg[i], v = _expAvgSq[i];
            Ops.MulInPlace(p, 1 - lr * weightDecay);                  // p *= 1 - lr·wd
            Ops.MulInPlace(m, beta1);                                  // m = β1·m + (1-β1)·g
            using (var gs = Ops.Mul(g, 1 - beta1)) Ops.AddInPlace(m, gs);
            Ops.MulInPlace(v, beta2);                                  // v = β2·v + (1-β2)·g²
            using (var g2 = Ops.Mul(g, g))
            {
                Ops.MulInPlace(g2, 1 - beta2);
                Ops.AddInPlace(v, g2);
            }
            using var root = Ops.Sqrt(v);                              // sqrt(v̂) + eps
            Ops.MulInPlace(root, 1 / Math.Sqrt(bc2));
            using var denom = Ops.Add(root, eps);
            using var ratio = Ops.Div(m, denom);                       // p -= lr/bc1 · m / denom
            Ops.MulInPlace(ratio, lr / bc1);
            Ops.SubInPlace(p, ratio);
        }
    }

    private void Step(Func<Tensor, Tensor> gradOf)
    {
        _step++;
        using var noGrad = GradMode.Disable();
        for (int i = 0; i < _params.Length; i++)
            Ops.AdamWStepInPlace(_params[i], gradOf(_params[i]), _expAvg[i], _expAvgSq[i], lr: 1e-4,
                weightDecay: 0.1, step: _step);
    }
}
