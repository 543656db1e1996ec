namespace PeftEngine.Nn;

/// <summary>
/// Multi-head self-attention with optional grouped-query attention (fewer key/value heads than query heads),
/// rotary position embeddings and a <see cref="KvCache"/> for generation. Children follow Llama's names:
/// q_proj, k_proj, v_proj, o_proj.
/// </summary>
/// <remarks>HF: LlamaAttention (rope, GQA, no biases) and, with rope off and biases on, the classic
/// attention of BERT/OPT. PyTorch: torch.nn.MultiheadAttention (different parameter layout).
/// Shapes: x (B, T, C) -> q (B, H, T, D), k and v (B, Hkv, T, D) -> attention (B, H, T, D) -> (B, T, H·D) -> o_proj.</remarks>
public sealed class MultiHeadAttention : Module
{
    /// <summary>Creates the layer.</summary>
    /// <param name="hiddenSize">C, the model width.</param>
    /// <param name="numHeads">H, the number of query heads.</param>
    /// <param name="numKvHeads">Hkv, key/value heads (H by default); H must be a multiple of it.</param>
    /// <param name="headDim">D (C / H by default).</param>
    /// <param name="bias">Biases on the four projections.</param>
    /// <param name="useRope">Rotate queries and keys by position (RoPE, rotate-half style as HF Llama).</param>
    /// <param name="ropeTheta">RoPE base.</param>
    /// <param name="maxPositions">Positions the rotary tables cover.</param>
    /// <param name="dtype">Parameter dtype.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    public MultiHeadAttention(int hiddenSize, int numHeads, int? numKvHeads = null, int? headDim = null, bool bias = false,
        bool useRope = false, double ropeTheta = 10000, int maxPositions = 2048, DType dtype = DType.F32, Generator? generator = null)
    {
        int hkv = numKvHeads ?? numHeads;
        if (numHeads <= 0 || hkv <= 0 || numHeads % hkv != 0)
            throw new ArgumentException($"MultiHeadAttention: {numHeads} query heads must be a positive multiple of {hkv} key/value heads");
        int d = headDim ?? (hiddenSize % numHeads == 0 ? hiddenSize / numHeads
            : throw new ArgumentException($"MultiHeadAttention: hidden size {hiddenSize} is not divisible by {numHeads} heads; give headDim"));
        HiddenSize = hiddenSize;
        NumHeads = numHeads;
        NumKvHeads = hkv;
        HeadDim = d;
        UseRope = useRope;
        RegisterModule("q_proj", new Linear(hiddenSize, numHeads * d, bias, dtype, generator));
        RegisterModule("k_proj", new Linear(hiddenSize, hkv * d, bias, dtype, generator));
        RegisterModule("v_proj", new Linear(hiddenSize, hkv * d, bias, dtype, generator));
        RegisterModule("o_proj", new Linear(numHeads * d, hiddenSize, bias, dtype, generator));
        if (useRope)
        {
            var (cos, sin) = Ops.RotaryTables(d, maxPositions, ropeTheta, dtype.IsCompute() ? dtype : DType.F32);
            RegisterBuffer("rope_cos", cos, persistent: false);
            RegisterBuffer("rope_sin", sin, persistent: false);
        }
    }

    /// <summary>C.</summary>
    public int HiddenSize { get; }

    /// <summary>H.</summary>
    public int NumHeads { get; }

    /// <summary>Hkv.</summary>
    public int NumKvHeads { get; }

    /// <summary>D.</summary>
    public int HeadDim { get; }

    /// <summary>Whether queries and keys are rotated by position.</summary>
    public bool UseRope { get; }

    /// <summary>C -> H·D.</summary>
    public Module QProj => GetChild("q_proj");

    /// <summary>C -> Hkv·D.</summary>
    public Module KProj => GetChild("k_proj");

    /// <summary>C -> Hkv·D.</summary>
    public Module VProj => GetChild("v_proj");

    /// <summary>H·D -> C.</summary>
    public Module OProj => GetChild("o_proj");

    /// <summary>Causal self-attention over x (B, T, C).</summary>
    public override Tensor Forward(Tensor x) => Forward(x, null, null, isCausal: true);

    /// <summary>
    /// Self-attention over x (B, T, C). With a <paramref name="cache"/>, x holds the T newest positions: their
    /// keys and values are appended and the queries attend over all cached positions (the causal mask aligns
    /// the queries with the last T keys). <paramref name="mask"/> is an additive mask broadcastable to
    /// (B, H, T, S), e.g. from <see cref="Ops.PaddingMask"/>.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? mask, KvCache? cache = null, bool isCausal = true)
    {
        if (x.Rank != 3 || x.Shape[2] != HiddenSize)
            throw new ArgumentException($"MultiHeadAttention: input must be (B, T, {HiddenSize}), got {x.Shape}");
        int b = x.Shape[0], t = x.Shape[1];
        int offset = cache?.Length ?? 0;
        using var q = Heads(QProj, x, NumHeads, offset);     // (B, H, T, D)
        using var k = Heads(KProj, x, NumKvHeads, offset);   // (B, Hkv, T, D)
        using var v = Heads(VProj, x, NumKvHeads, null);     // (B, Hkv, T, D)
        // With a cache, attend over every cached position; without one, over the new keys (no copy, so the
        // graph reaches k and v).
        var (cachedK, cachedV) = cache is null ? ((Tensor?)null, (Tensor?)null) : cache.Append(k, v);   // (B, Hkv, offset + T, D)
        using (cachedK)
        using (cachedV)
        {
            using var y = Ops.ScaledDotProductAttention(q, cachedK ?? k, cachedV ?? v, mask, isCausal);   // (B, H, T, D)
            using var yt = Ops.Transpose(y, 1, 2);                                                       // (B, T, H, D)
            using var merged = Ops.Reshape(yt, b, t, NumHeads * HeadDim);                                // (B, T, H·D)
            return OProj.Forward(merged);
        }
    }

    /// <summary>Projects x and splits heads: (B, T, C) -> (B, T, n·D) -> (B, n, T, D), rotated when
    /// <paramref name="ropeOffset"/> is given and rope is on.</summary>
    private Tensor Heads(Module projection, Tensor x, int heads, int? ropeOffset)
    {
        int b = x.Shape[0], t = x.Shape[1];
        using var p = projection.Forward(x);                   // (B, T, n·D)
        using var split = Ops.View(p, b, t, heads, HeadDim);   // (B, T, n, D)
        var h = Ops.Transpose(split, 1, 2);                    // (B, n, T, D)
        if (!UseRope || ropeOffset is not int offset) return h;
        using (h) return Ops.ApplyRotary(h, GetBuffer("rope_cos"), GetBuffer("rope_sin"), offset);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        $"hidden={HiddenSize}, heads={NumHeads}, kv_heads={NumKvHeads}, head_dim={HeadDim}, rope={UseRope}";
}
