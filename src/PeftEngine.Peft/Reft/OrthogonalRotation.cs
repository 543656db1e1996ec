using PeftEngine.Nn;

namespace PeftEngine.Peft.Reft;

/// <summary>
/// LoReFT's projection Rᵀ, a (d, r) matrix U with orthonormal columns (so R = Uᵀ has orthonormal rows), kept
/// orthonormal by construction under any optimizer through a Householder parametrization with a fixed base
/// (the "dynamic trivialization" PyTorch uses):
/// <code>
/// U = −B · H₁ H₂ ⋯ H_r · E,   H_j = I − τ_j v_j v_jᵀ,   v_j = e_j + tril(A, −1)[:, j],   τ_j = 2 / (v_jᵀ v_j)
/// </code>
/// where A (d, r) is the trained parameter (only its strictly lower triangle is used: d·r − r(r+1)/2 degrees of
/// freedom, every orthonormal U is reachable), E the first r columns of the identity and B (d, d) an orthogonal
/// buffer. Each H_j is an exact reflection, so U stays orthonormal up to float rounding however A moves.
/// At A = 0 every H_j flips e_j, so U = B[:, :r] exactly: initialisation draws a random orthogonal B (the
/// first r columns are pyreft's orthogonal_ init of R), and loading a saved U writes it into B[:, :r] and sets A = 0,
/// which reproduces the saved U bit for bit.
/// </summary>
/// <remarks>PyTorch: torch.nn.utils.parametrizations.orthogonal(rotate_layer) with its default for a non-square
/// weight (orthogonal_map="householder", use_trivialization=True), as pyreft's LowRankRotateLayer uses. The memory
/// cost is B's d² floats per intervention, as in PyTorch. In-memory names: <c>original</c> (A) and <c>base</c> (B).</remarks>
public sealed class OrthogonalRotation : Module, IRotateLayer
{
    private Storage? _completedStorage;
    private int _completedVersion = -1;

    /// <summary>A random orthonormal (d, r) projection (B drawn from the Haar measure by a sign-fixed QR of a
    /// Gaussian matrix, A = 0).</summary>
    public OrthogonalRotation(int embedDim, int rank, Generator? generator = null)
    {
        if (rank <= 0 || rank > embedDim)
            throw new ArgumentException($"OrthogonalRotation: the rank must be in [1, d = {embedDim}], got {rank}");
        EmbedDim = embedDim;
        Rank = rank;
        RegisterParameter("original", Tensor.Zeros(new Shape(embedDim, rank), DType.F32));
        RegisterBuffer("base", RandomOrthogonal(embedDim, embedDim, generator));
        MarkBaseComplete();
    }

    /// <summary>d.</summary>
    public int EmbedDim { get; }

    /// <summary>r.</summary>
    public int Rank { get; }

    /// <summary>The trained parameter A (d, r).</summary>
    public Parameter Original => GetParameter("original")!;

    /// <summary>The orthogonal base B (d, d).</summary>
    public Tensor Base => GetBuffer("base");

    /// <inheritdoc/>
    public Tensor Weight()
    {
        EnsureBaseComplete();
        return Materialize(Original, Base);
    }

    /// <summary>U = −B · H₁⋯H_r · E for a parameter <paramref name="a"/> (d, r) and a base <paramref name="b"/> (d, d),
    /// with gradients to <paramref name="a"/>.</summary>
    public static Tensor Materialize(Tensor a, Tensor b)
    {
        using var q = HouseholderProduct(a);                 // (d, r)
        return Ops.MatMul(b, q);                             // (d, d) @ (d, r) -> (d, r)
    }

    /// <summary>−H₁ H₂ ⋯ H_r · E (d, r) from the strictly lower triangle of <paramref name="a"/> (d, r), d ≥ r.</summary>
    /// <remarks>PyTorch: −torch.linalg.householder_product(tril(A, −1) + E, τ). Applied right to left, one reflection
    /// at a time: Q ← Q − τ_j v_j (v_jᵀ Q), so the cost is O(d·r²) and every step is an ordinary recorded op.</remarks>
    public static Tensor HouseholderProduct(Tensor a)
    {
        if (a.Rank != 2 || a.Shape[0] < a.Shape[1])
            throw new ArgumentException($"OrthogonalRotation: the parameter must be (d, r) with d ≥ r, got {a.Shape}");
        int d = a.Shape[0], r = a.Shape[1];
        using var e = Eye(d, r, a.DType);
        using var lower = Ops.Tril(a, -1);
        using var v = Ops.Add(lower, e);                     // columns v_j = e_j + strictly lower part
        using var vv = Ops.Mul(v, v);
        using var norms = Ops.Sum(vv, 0, keepDim: true);     // (1, r): v_jᵀ v_j ≥ 1
        using var inv = Ops.Reciprocal(norms);
        using var tau = Ops.Mul(inv, 2.0);
        var q = e.Alias();
        try
        {
            for (int j = r - 1; j >= 0; j--)
            {
                using var vj = Ops.Narrow(v, 1, j, 1);       // (d, 1)
                using var tj = Ops.Narrow(tau, 1, j, 1);     // (1, 1)
                using var vjT = Ops.Transpose(vj, 0, 1);     // (1, d)
                using var w = Ops.MatMul(vjT, q);            // (1, d) @ (d, r) -> (1, r)
                using var outer = Ops.MatMul(vj, w);         // (d, 1) @ (1, r) -> (d, r)
                using var scaled = Ops.Mul(outer, tj);
                var next = Ops.Sub(q, scaled);
                q.Dispose();
                q = next;
            }
            return Ops.Mul(q, -1.0);
        }
        finally { q.Dispose(); }
    }

    /// <summary>The identity's first <paramref name="cols"/> columns (rows, cols).</summary>
    private static Tensor Eye(int rows, int cols, DType dtype)
    {
        var data = new double[rows * cols];
        for (int i = 0; i < cols; i++) data[i * cols + i] = 1;
        using var t = Tensor.FromArray(data, rows, cols);
        return t.To(dtype);
    }

    /// <summary>A random (rows, cols) matrix with orthonormal columns (rows ≥ cols): Q of the QR of a Gaussian
    /// matrix with its columns' signs fixed so that R's diagonal is positive (Haar distributed).</summary>
    /// <remarks>PyTorch: torch.nn.init.orthogonal_.</remarks>
    public static Tensor RandomOrthogonal(int rows, int cols, Generator? generator)
    {
        using var g = Tensor.Randn(new Shape(rows, cols), generator, DType.F64);
        using var qr = Linalg.Qr(g);
        var q = qr.Q.ToDoubleArray();
        var r = qr.R.ToDoubleArray();
        for (int j = 0; j < cols; j++)
            if (r[j * cols + j] < 0)
                for (int i = 0; i < rows; i++) q[i * cols + j] = -q[i * cols + j];
        using var t = Tensor.FromArray(q, rows, cols);
        return t.To(DType.F32);
    }

    /// <summary>Prepares to receive a saved U: A is set to zero and the returned view of B[:, :r] is the tensor to
    /// copy U into. The remaining columns of B are completed to an orthonormal basis before the next use.</summary>
    internal Tensor LoadTarget()
    {
        using (GradMode.Disable()) Ops.FillInPlace(Original.Data, 0);
        return Ops.Narrow(Base, 1, 0, Rank);
    }

    private void MarkBaseComplete()
    {
        _completedStorage = Base.Storage;
        _completedVersion = Base.Storage.Version;
    }

    /// <summary>After B[:, :r] was overwritten (a load), rebuilds B[:, r:] as an orthonormal basis of the
    /// complement of the new first columns (the old columns projected and re-orthonormalized), so that training
    /// from a loaded adapter keeps U orthonormal. The first r columns are not touched.</summary>
    private void EnsureBaseComplete()
    {
        var b = Base;
        if (ReferenceEquals(b.Storage, _completedStorage) && b.Storage.Version == _completedVersion) return;
        int d = EmbedDim, r = Rank;
        if (d > r)
        {
            using var _ = GradMode.Disable();
            using var u = Ops.Narrow(b, 1, 0, r);
            using var u64 = u.To(DType.F64);
            using var rest = Ops.Narrow(b, 1, r, d - r);
            using var n64 = rest.To(DType.F64);
            var n = n64.Alias();
            try
            {
                for (int pass = 0; pass < 2; pass++)           // project twice: once is not enough in floats
                {
                    using var ut = Ops.Transpose(u64, 0, 1);
                    using var coef = Ops.MatMul(ut, n);        // (r, d) @ (d, d-r) -> (r, d-r)
                    using var proj = Ops.MatMul(u64, coef);    // (d, r) @ (r, d-r) -> (d, d-r)
                    var next = Ops.Sub(n, proj);
                    n.Dispose();
                    n = next;
                }
                using var qr = Linalg.Qr(n);
                using var cast = qr.Q.To(b.DType);
                Ops.CopyInPlace(rest, cast);
            }
            finally { n.Dispose(); }
        }
        MarkBaseComplete();
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"d={EmbedDim}, r={Rank}, householder";
}

/// <summary>The (d, r) projection of a ReFT intervention (U = Rᵀ), as pyreft's rotate_layer.weight.</summary>
public interface IRotateLayer
{
    /// <summary>The current U (d, r), recorded in the graph.</summary>
    Tensor Weight();
}

/// <summary>DiReFT's unconstrained (d, r) projection, initialised with orthonormal columns.</summary>
/// <remarks>pyreft: LowRankRotateLayer(d, r, init_orth=True) without the orthogonal parametrization.</remarks>
public sealed class LowRankRotation : Module, IRotateLayer
{
    /// <summary>A (d, r) weight with random orthonormal columns.</summary>
    public LowRankRotation(int embedDim, int rank, Generator? generator = null)
    {
        if (rank <= 0 || rank > embedDim)
            throw new ArgumentException($"LowRankRotation: the rank must be in [1, d = {embedDim}], got {rank}");
        RegisterParameter("weight", OrthogonalRotation.RandomOrthogonal(embedDim, rank, generator));
    }

    /// <summary>The weight parameter (d, r).</summary>
    public Parameter WeightParameter => GetParameter("weight")!;

    /// <inheritdoc/>
    public Tensor Weight() => Ops.Reshape(WeightParameter, WeightParameter.Data.Shape[0], WeightParameter.Data.Shape[1]);
}
