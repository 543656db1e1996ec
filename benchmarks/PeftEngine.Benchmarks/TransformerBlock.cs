namespace PeftEngine.Benchmarks;

/// <summary>
/// A pre-norm GPT-style transformer block written with <see cref="Ops"/>, for the block and training-step
/// benchmarks and for profiling:
/// <code>
/// x1  = x  + proj(attention(split_heads(qkv(layer_norm_1(x)))))
/// out = x1 + fc2(gelu(fc1(layer_norm_2(x1))))
/// </code>
/// Attention is causal over <c>heads</c> heads of size C / heads. Weights are f32, drawn from N(0, 0.02²).
/// </summary>
internal sealed class TransformerBlock : IDisposable
{
    private readonly int _c, _heads;
    private readonly Tensor _ln1W, _ln1B, _qkvW, _qkvB, _projW, _projB, _ln2W, _ln2B, _fc1W, _fc1B, _fc2W, _fc2B;

    /// <summary>Optional per-op timer (profiling only): called with a label after each op finishes.</summary>
    public Action<string>? Mark { get; set; }

    public TransformerBlock(int channels, int heads, bool trainable, int seed = 1)
    {
        _c = channels;
        _heads = heads;
        var gen = new Generator((ulong)seed);
        Tensor Weight(int outF, int inF)
        {
            using var r = Tensor.Randn(new Shape(outF, inF), gen);
            return Ops.Mul(r, 0.02);
        }
        _ln1W = Tensor.Ones(new Shape(channels));
        _ln1B = Tensor.Zeros(new Shape(channels));
        _qkvW = Weight(3 * channels, channels);
        _qkvB = Tensor.Zeros(new Shape(3 * channels));
        _projW = Weight(channels, channels);
        _projB = Tensor.Zeros(new Shape(channels));
        _ln2W = Tensor.Ones(new Shape(channels));
        _ln2B = Tensor.Zeros(new Shape(channels));
        _fc1W = Weight(4 * channels, channels);
        _fc1B = Tensor.Zeros(new Shape(4 * channels));
        _fc2W = Weight(channels, 4 * channels);
        _fc2B = Tensor.Zeros(new Shape(channels));
        if (trainable)
            foreach (var p in Parameters) p.RequireGrad();
    }

    /// <summary>Every weight and bias, in a fixed order.</summary>
    public Tensor[] Parameters =>
        [_ln1W, _ln1B, _qkvW, _qkvB, _projW, _projB, _ln2W, _ln2B, _fc1W, _fc1B, _fc2W, _fc2B];

    /// <summary>Runs the block on x (B, T, C). Intermediates are disposed here; the graph keeps what backward
    /// needs.</summary>
    public Tensor Forward(Tensor x)
    {
        int b = x.Shape[0], t = x.Shape[1], hs = _c / _heads;
        using var h1 = Ops.LayerNorm(x, null, _ln1W, _ln1B);          Mark?.Invoke("layer_norm");
        using var qkv = Ops.Linear(h1, _qkvW, _qkvB);                  Mark?.Invoke("linear qkv");
        // (B, T, 3C) -> three (B, T, C) views -> (B, T, nh, hs) -> (B, nh, T, hs)
        using var q = Heads(qkv, 0, b, t, hs);
        using var k = Heads(qkv, 1, b, t, hs);
        using var v = Heads(qkv, 2, b, t, hs);                         Mark?.Invoke("split heads");
        using var att = Ops.ScaledDotProductAttention(q, k, v, isCausal: true);   Mark?.Invoke("attention");
        // (B, nh, T, hs) -> (B, T, nh, hs) -> (B, T, C)
        using var attT = Ops.Transpose(att, 1, 2);
        using var merged = Ops.Reshape(attT, b, t, _c);                Mark?.Invoke("merge heads");
        using var proj = Ops.Linear(merged, _projW, _projB);           Mark?.Invoke("linear proj");
        using var x1 = Ops.Add(x, proj);                               Mark?.Invoke("residual");
        using var h2 = Ops.LayerNorm(x1, null, _ln2W, _ln2B);          Mark?.Invoke("layer_norm");
        using var fc1 = Ops.Linear(h2, _fc1W, _fc1B);                  Mark?.Invoke("linear fc1");
        using var act = Ops.Gelu(fc1);                                 Mark?.Invoke("gelu");
        using var fc2 = Ops.Linear(act, _fc2W, _fc2B);                 Mark?.Invoke("linear fc2");
        var y = Ops.Add(x1, fc2);                                      Mark?.Invoke("residual");
        return y;
    }

    /// <summary>Part <paramref name="part"/> (0 = q, 1 = k, 2 = v) of the fused projection as heads.</summary>
    private Tensor Heads(Tensor qkv, int part, int b, int t, int hs)
    {
        using var slice = Ops.Narrow(qkv, 2, part * _c, _c);   // (B, T, C), a strided view
        using var split = Ops.Reshape(slice, b, t, _heads, hs); // (B, T, nh, hs)
        return Ops.Transpose(split, 1, 2);                     // (B, nh, T, hs)
    }

    public void Dispose()
    {
        foreach (var p in Parameters) p.Dispose();
    }
}
