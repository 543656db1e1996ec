namespace PeftEngine;

/// <summary>
/// Matrix products: <see cref="MatMul"/> (torch.matmul, with vectors and broadcast batches), <see cref="Bmm"/>
/// and <see cref="Outer"/>. Every product runs on the backend's GEMM, which reads transposed and broadcast
/// operands through their strides, so no operand is copied to be transposed.
/// </summary>
/// <remarks>
/// Backward of C = A·B (per batch element): dA = dC·Bᵀ and dB = Aᵀ·dC, both computed by the same GEMM with
/// its transpose flags. A input that needs no gradient gets none, and the node saves only what the other
/// gradient needs (A for dB, B for dA).
/// </remarks>
public static partial class Ops
{
    /// <summary>
    /// The matrix product of a and b with NumPy / PyTorch rules: 1-D · 1-D is a dot product (0-D result);
    /// a 1-D a is a row vector and a 1-D b a column vector, their added dimension removed from the result;
    /// 2-D · 2-D is the matrix product; for more dimensions the last two are the matrices and the leading
    /// (batch) dimensions broadcast: (j, 1, m, k) · (l, k, n) -> (j, l, m, n).
    /// </summary>
    /// <remarks>PyTorch: torch.matmul / the @ operator. Mixed precision: see <see cref="ProductDType"/>.</remarks>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        var dtype = ProductDType(a, b, "MatMul");
        if (a.Rank == 0 || b.Rank == 0)
            throw new ArgumentException($"MatMul: both operands need at least one dimension, got {a.Shape} and {b.Shape}; use Mul for a scalar");
        var p = MatMulPlan.Of(a.Shape, b.Shape);
        var y = Tensor.Empty(Shape.Wrap(p.OutDims), dtype, a.Device);
        using (GradMode.Disable())
        {
            using var am = Reshape(a, p.AMatrixDims);   // (k) -> (1, k), else a view of a itself
            using var bm = Reshape(b, p.BMatrixDims);   // (k) -> (k, 1)
            using var y3 = Reshape(y, p.CMatrixDims);   // (batch..., m, n)
            GemmNoGrad(am, bm, y3);
        }
        if (Graph.IsRecording(a, b))
            Graph.Attach(y, new MatMulNode(p, a.RequiresGrad ? b : null, b.RequiresGrad ? a : null), a, b);
        return y;
    }

    /// <summary>Batched matrix product of two 3-D tensors with the same batch size: (B, m, k) · (B, k, n) -> (B, m, n).</summary>
    /// <remarks>PyTorch: torch.bmm. <see cref="MatMul"/> does the same and also broadcasts.</remarks>
    public static Tensor Bmm(Tensor a, Tensor b)
    {
        if (a.Rank != 3 || b.Rank != 3 || a.Shape[0] != b.Shape[0])
            throw new ArgumentException($"Bmm: expected (B, m, k) and (B, k, n) with the same B, got {a.Shape} and {b.Shape}");
        return MatMul(a, b);
    }

    /// <summary>The outer product of two vectors: result[i, j] = a[i] · b[j].</summary>
    /// <remarks>PyTorch: torch.outer. Computed as a broadcast product, (m, 1) * (1, n).</remarks>
    public static Tensor Outer(Tensor a, Tensor b)
    {
        if (a.Rank != 1 || b.Rank != 1)
            throw new ArgumentException($"Outer: expected two 1-D tensors, got {a.Shape} and {b.Shape}");
        using var column = Unsqueeze(a, 1); // (m) -> (m, 1)
        using var row = Unsqueeze(b, 0);    // (n) -> (1, n)
        return Mul(column, row);
    }

    /// <summary>
    /// The dtype of a product of a and b (<see cref="MatMul"/>, <see cref="Linear"/>), after checking they may be
    /// multiplied: equal compute dtypes (f32 or f64) give that dtype; an f32 operand with a bf16 or f16 one gives
    /// f32 (the 16-bit operand is widened as the GEMM reads it, never copied whole); f64 does not mix, and two
    /// 16-bit operands must be cast first. A 16-bit operand is a frozen base (a stored weight): it may not require
    /// a gradient while gradients are recorded; the gradient flows to the f32 operand only.
    /// </summary>
    /// <remarks>PyTorch has no implicit mixing (it asks for equal dtypes, or autocast); this is the rule of
    /// a bf16 base weight under an f32 LoRA adapter.</remarks>
    internal static DType ProductDType(Tensor a, Tensor b, string op)
    {
        a.ThrowIfDisposed();
        b.ThrowIfDisposed();
        CheckSameDevice(a, b, op);
        if (a.DType == b.DType)
        {
            DTypes.RequireCompute(a, op);
            return a.DType;
        }
        bool aHalf = a.DType is DType.BF16 or DType.F16, bHalf = b.DType is DType.BF16 or DType.F16;
        if (!(aHalf && b.DType == DType.F32) && !(bHalf && a.DType == DType.F32))
            throw new ArgumentException(
                $"{op}: dtypes {a.Shape} {a.DType.Name()} and {b.Shape} {b.DType.Name()} do not mix: expected equal f32/f64 dtypes, " +
                "or one f32 and one bf16/f16 operand; cast one with .To(dtype)");
        var half = aHalf ? a : b;
        if (GradMode.IsEnabled && half.RequiresGrad)
            throw new ArgumentException(
                $"{op}: the {half.DType.Name()} operand {half.Shape} requires a gradient, but a 16-bit operand mixed with f32 is a frozen " +
                "base; cast it to f32 to train it, or clear RequiresGrad");
        return DType.F32;
    }

    /// <summary>The shapes of one <see cref="MatMul"/>: the operands seen as matrices and the result.</summary>
    internal sealed record MatMulPlan(int[] Batch, int M, int K, int N, bool AIsVector, bool BIsVector, int[] OutDims)
    {
        /// <summary>a as (..., m, k): a vector (k) becomes (1, k).</summary>
        public int[] AMatrixDims { get; init; } = [];

        /// <summary>b as (..., k, n): a vector (k) becomes (k, 1).</summary>
        public int[] BMatrixDims { get; init; } = [];

        /// <summary>The result as (batch..., m, n).</summary>
        public int[] CMatrixDims => [.. Batch, M, N];

        public long BatchCount => Batch.Aggregate(1L, (x, d) => x * d);

        public static MatMulPlan Of(Shape a, Shape b)
        {
            bool av = a.Rank == 1, bv = b.Rank == 1;
            int m = av ? 1 : a[-2], ka = a[-1];
            int kb = bv ? b[0] : b[-2], n = bv ? 1 : b[-1];
            if (ka != kb)
                throw new ArgumentException($"MatMul: inner dimensions differ: a {a} has {ka} columns, b {b} has {kb} rows");
            var aBatch = av ? [] : a.Dims[..^2].ToArray();
            var bBatch = bv ? [] : b.Dims[..^2].ToArray();
            int[] batch;
            try { batch = Shape.Broadcast(Shape.Wrap(aBatch), Shape.Wrap(bBatch)).ToArray(); }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"MatMul: batch dimensions of {a} and {b} do not broadcast: {e.Message}");
            }
            var outDims = new List<int>(batch);
            if (!av) outDims.Add(m);
            if (!bv) outDims.Add(n);
            return new MatMulPlan(batch, m, ka, n, av, bv, outDims.ToArray())
            {
                AMatrixDims = av ? [1, ka] : a.ToArray(),
                BMatrixDims = bv ? [kb, 1] : b.ToArray(),
            };
        }
    }

    private sealed class MatMulNode : GradNode
    {
        private readonly MatMulPlan _p;
        private readonly SavedTensor? _a, _b;
        private readonly Shape _bShape;

        /// <param name="p">The shapes.</param>
        /// <param name="bForGradA">b, saved only when a needs a gradient.</param>
        /// <param name="aForGradB">a, saved only when b needs a gradient.</param>
        public MatMulNode(MatMulPlan p, Tensor? bForGradA, Tensor? aForGradB)
        {
            _p = p;
            _bShape = Shape.Wrap(p.BMatrixDims);
            if (bForGradA is not null) _b = Save(bForGradA);
            if (aForGradB is not null) _a = Save(aForGradB);
        }

        public override Tensor?[] Backward(Tensor g)
        {
            using var g3 = Reshape(g, _p.CMatrixDims); // (batch..., m, n)
            return [NeedsGrad(0) ? GradA(g3) : null, NeedsGrad(1) ? GradB(g3) : null];
        }

        /// <summary>dA = dC · Bᵀ, in the broadcast batch shape (the engine sums it down to a's shape). B may be a
        /// 16-bit frozen operand; dA is in dC's dtype (f32).</summary>
        private Tensor GradA(Tensor g3)
        {
            using var b = Reshape(_b!.Value, _p.BMatrixDims);
            var da = Tensor.Empty(Shape.Wrap([.. _p.Batch, _p.M, _p.K]), g3.DType, g3.Device);
            GemmNoGrad(g3, b, da, transB: true);
            if (!_p.AIsVector) return da;
            using (da) return Reshape(da, [.. _p.Batch, _p.K]); // (batch..., 1, k) -> (batch..., k)
        }

        /// <summary>dB = Aᵀ · dC. When b has no batch of its own (a weight shared by the batch), the batch is
        /// folded into the shared dimension instead: dB = Σ_t A[t]ᵀ · dC[t] = A_stackedᵀ · dC_stacked,
        /// one GEMM over (batch·m) rows with no batch-sized temporary.</summary>
        private Tensor GradB(Tensor g3)
        {
            using var a = Reshape(_a!.Value, _p.AMatrixDims);
            if (_bShape.Numel != (long)_p.K * _p.N)
            {
                // b has its own batch: one product per batch element, (batch..., k, n).
                var dbBatched = Tensor.Empty(Shape.Wrap([.. _p.Batch, _p.K, _p.N]), g3.DType, g3.Device);
                GemmNoGrad(a, g3, dbBatched, transA: true);
                return dbBatched;
            }
            int rows = checked((int)(_p.BatchCount * _p.M));
            using var aFlat = Reshape(a, rows, _p.K);  // (batch..., m, k) -> (batch·m, k), a view when the layout allows
            using var gFlat = Reshape(g3, rows, _p.N); // (batch..., m, n) -> (batch·m, n)
            using var db = Tensor.Empty(Shape.Wrap([_p.K, _p.N]), g3.DType, g3.Device);
            GemmNoGrad(aFlat, gFlat, db, transA: true);
            return Reshape(db, _p.BIsVector ? [_p.K] : _p.BMatrixDims); // (k, n) -> b's shape; (k, 1) -> (k)
        }
    }
}
