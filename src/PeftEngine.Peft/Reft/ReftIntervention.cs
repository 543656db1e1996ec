using PeftEngine.Nn;

namespace PeftEngine.Peft.Reft;

/// <summary>
/// One ReFT intervention on hidden states h (…, d): a (d, r) projection U = Rᵀ (<c>rotate_layer</c>), a learned
/// affine map W·h + b to r dimensions (<c>learned_source</c>, an r × d Linear), an optional activation and dropout.
/// <list type="bullet">
/// <item>LoReFT (orthogonal U): Φ(h) = dropout(h + (act(W·h + b) − R·h)·R), i.e. h + Rᵀ(W·h + b − R·h) per vector.</item>
/// <item>DiReFT (free U): Φ(h) = dropout(h + act(W·h + b)·Uᵀ).</item>
/// </list>
/// The intervention runs in the parameters' dtype (F32 on a bf16 model) and returns h's dtype.
/// </summary>
/// <remarks>pyreft: LoreftIntervention / DireftIntervention (dropout on the whole output, as pyreft applies it).</remarks>
public sealed class ReftIntervention : Module
{
    /// <summary>A new intervention: orthogonal (LoReFT) or not (DiReFT); W and b start as nn.Linear(d, r) does.</summary>
    public ReftIntervention(int embedDim, int rank, bool orthogonal, double dropout, string? actFn, Generator? generator = null)
    {
        if (dropout < 0 || dropout >= 1) throw new ArgumentException($"ReftIntervention: dropout must be in [0, 1), got {dropout}");
        Orthogonal = orthogonal;
        ActFn = actFn is null or "linear" ? null : actFn;
        if (ActFn is not null and not ("relu" or "gelu" or "silu" or "tanh"))
            throw new ArgumentException($"ReftIntervention: act_fn \"{actFn}\" is not supported (linear, relu, gelu, silu, tanh)");
        RegisterModule("rotate_layer", orthogonal ? new OrthogonalRotation(embedDim, rank, generator) : (Module)new LowRankRotation(embedDim, rank, generator));
        RegisterModule("learned_source", new Linear(embedDim, rank, generator: generator));
        RegisterModule("dropout", new Dropout(dropout, generator));
    }

    /// <summary>True for LoReFT (U kept orthonormal), false for DiReFT.</summary>
    public bool Orthogonal { get; }

    /// <summary>The activation name, null for none.</summary>
    public string? ActFn { get; }

    /// <summary>The projection layer.</summary>
    public IRotateLayer RotateLayer => (IRotateLayer)GetChild("rotate_layer");

    /// <summary>W (r, d) and b (r).</summary>
    public Linear LearnedSource => (Linear)GetChild("learned_source");

    /// <summary>h (…, d) -> Φ(h) (…, d) at every position (the caller selects positions).</summary>
    public override Tensor Forward(Tensor h)
    {
        var source = LearnedSource;
        var dtype = source.Weight.DType;
        using var x = h.DType == dtype ? Ops.Reshape(h, h.Shape.ToArray()) : Ops.Cast(h, dtype);
        using var u = RotateLayer.Weight();
        using var y = Orthogonal ? Loreft(x, u, source.Weight, source.Bias?.Data, ActFn) : Direft(x, u, source.Weight, source.Bias?.Data, ActFn);
        using var dropped = GetChild("dropout").Forward(y);
        return dropped.DType == h.DType ? Ops.Reshape(dropped, dropped.Shape.ToArray()) : Ops.Cast(dropped, h.DType);
    }

    /// <summary>LoReFT without dropout: h + (act(h·Wᵀ + b) − h·U)·Uᵀ for row vectors h (…, d), U (d, r), W (r, d), b (r).</summary>
    public static Tensor Loreft(Tensor h, Tensor u, Tensor w, Tensor? b, string? actFn = null)
    {
        using var rotated = Ops.MatMul(h, u);                // (…, d) @ (d, r) -> (…, r): R·h
        using var lin = Ops.Linear(h, w, b);                 // (…, r): W·h + b
        using var src = Activate(lin, actFn);
        using var diff = Ops.Sub(src, rotated);
        using var ut = Ops.Transpose(u, 0, 1);               // (r, d)
        using var delta = Ops.MatMul(diff, ut);              // (…, r) @ (r, d) -> (…, d): Rᵀ(W·h + b − R·h)
        return Ops.Add(h, delta);
    }

    /// <summary>DiReFT without dropout: h + act(h·Wᵀ + b)·Uᵀ.</summary>
    public static Tensor Direft(Tensor h, Tensor u, Tensor w, Tensor? b, string? actFn = null)
    {
        using var lin = Ops.Linear(h, w, b);                 // (…, r)
        using var src = Activate(lin, actFn);
        using var ut = Ops.Transpose(u, 0, 1);               // (r, d)
        using var delta = Ops.MatMul(src, ut);               // (…, r) @ (r, d) -> (…, d)
        return Ops.Add(h, delta);
    }

    private static Tensor Activate(Tensor x, string? actFn) => actFn switch
    {
        null or "linear" => Ops.Reshape(x, x.Shape.ToArray()),
        "relu" => Ops.Relu(x),
        "gelu" => Ops.Gelu(x),
        "silu" => Ops.Silu(x),
        "tanh" => Ops.Tanh(x),
        _ => throw new ArgumentException($"ReFT: act_fn \"{actFn}\" is not supported (linear, relu, gelu, silu, tanh)"),
    };

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{(Orthogonal ? "loreft" : "direft")}, act={ActFn ?? "linear"}";
}
