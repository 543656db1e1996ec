using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace PeftEngine.Benchmarks;

/// <summary>
/// One pre-norm GPT-style block (GPT-2 small sizes: C = 768, 12 heads) on B x T tokens, forward only (inference,
/// GradMode disabled) and forward + backward (weights require grad; backward from a fixed output gradient).
/// The tokens/s column is B·T / mean time. Run with
/// <c>dotnet run -c Release --project benchmarks/PeftEngine.Benchmarks -- --filter '*TransformerBlock*'</c>.
/// </summary>
/// <remarks>
/// Work per token: the four Linear layers are 2·(3C² + C² + 4C² + 4C²) = 24C² ≈ 14.2 MFLOP forward, and
/// causal attention adds about 2·T·C (QKᵀ and PV, half of the T x T scores) ≈ 0.4 MFLOP at T = 256; backward is
/// about twice the forward. So GFLOP/s ≈ tokens/s x 14.6e6 (forward) or x 43.8e6 (forward + backward), which
/// can be compared with the GEMM benchmark's GFLOP/s.
/// </remarks>
[Config(typeof(TokensConfig))]
[MemoryDiagnoser]
public class TransformerBlockBenchmarks
{
    private TransformerBlock _inference = null!, _trainable = null!;
    private Tensor _x = null!, _dy = null!;

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
        _inference = new TransformerBlock(C, Heads, trainable: false);
        _trainable = new TransformerBlock(C, Heads, trainable: true);
        var gen = new Generator(7);
        _x = Tensor.Randn(new Shape(B, T, C), gen);
        _dy = Tensor.Randn(new Shape(B, T, C), gen);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _inference.Dispose();
        _trainable.Dispose();
        _x.Dispose();
        _dy.Dispose();
    }

    [Benchmark(Baseline = true, Description = "block forward (no grad)")]
    public void Forward()
    {
        using var noGrad = GradMode.Disable();
        using var y = _inference.Forward(_x);
    }

    [Benchmark(Description = "block forward + backward")]
    public void ForwardBackward()
    {
        using (var scope = TensorScope.Begin())
        {
            var y = _trainable.Forward(_x);
            Engine.Backward(y, _dy);
            foreach (var p in _trainable.Parameters) p.Grad = null;   // the scope frees the gradients
        }
    }

    /// <summary>Adds tokens/s = B·T / mean time.</summary>
    internal sealed class TokensConfig : ManualConfig
    {
        public TokensConfig() => AddColumn(new ThroughputColumn("tokens/s", bc =>
            Convert.ToDouble(bc.Parameters["B"]) * Convert.ToDouble(bc.Parameters["T"])));
    }
}
