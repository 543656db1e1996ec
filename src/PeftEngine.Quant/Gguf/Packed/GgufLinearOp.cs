namespace PeftEngine.Quant;

/// <summary>
/// The affine map of a Linear layer whose weight stays in packed ggml blocks: y = x · Wᵀ + b.
/// </summary>
/// <remarks>
/// Forward: up to <see cref="GgmlPackedProducts.MatVecMaxRows"/> rows of x use int8-rounded activations and integer
/// block dot products (as llama.cpp does for generation), more rows use W expanded tile by tile into the F32 GEMM.
/// Backward, with x flattened to X (N, in) and dy to G (N, out): dX = G · W (tiles of W expanded to F32), db = Σ_rows G.
/// W is a frozen constant and gets no gradient (adapters train beside it).
/// </remarks>
public static class GgufLinearOp
{
    /// <summary>y = x · Wᵀ + bias for x (..., in) F32 on the CPU, W (out, in) packed, bias (out) F32; y is (..., out) F32.</summary>
    /// <remarks>llama.cpp: ggml_mul_mat(W, x) (+ ggml_add of the bias).</remarks>
    public static unsafe Tensor Forward(Tensor x, GgmlPackedWeight w, Tensor? bias = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        if (x.DType != DType.F32)
            throw new ArgumentException($"GgufLinear: the input must be f32, got {x.DType.Name()}; cast it with .To(DType.F32)");
        if (!x.Device.IsHost)
            throw new ArgumentException($"GgufLinear: packed {w.Type} weights are multiplied on the CPU, but the input is on {x.Device}");
        int outF = w.Rows, inF = w.Cols;
        if (x.Rank == 0 || x.Shape[-1] != inF)
            throw new ArgumentException($"GgufLinear: input {x.Shape} must end in {inF} features to match the {w.Type} weight ({outF}, {inF})");
        if (bias is not null && (bias.DType != DType.F32 || bias.Rank != 1 || bias.Shape[0] != outF))
            throw new ArgumentException($"GgufLinear: bias must be f32 of shape ({outF},), got {bias.DType.Name()} {bias.Shape}");
        var outDims = x.Shape.ToArray();
        outDims[^1] = outF;
        int rows = (int)(x.Numel / inF);
        var y = Tensor.Empty(new Shape(outDims), DType.F32, Device.Cpu);
        using (GradMode.Disable())
        {
            using var x2 = Ops.Reshape(x, rows, inF);      // (..., in) -> (N, in)
            using var xc = Ops.Contiguous(x2);
            using var bc = bias is null ? null : Ops.Contiguous(bias);
            var ys = y.HostStorage.AsSpan<float>(y.Offset, y.Numel);
            var bs = bc is null ? default : bc.HostStorage.AsSpan<float>(bc.Offset, outF);
            if (rows == 0) { }
            else if (rows <= GgmlPackedProducts.MatVecMaxRows)
                GgmlPackedProducts.MatVec(xc.HostStorage.AsSpan<float>(xc.Offset, xc.Numel), rows, w, ys, bs);
            else
                GgmlPackedProducts.TiledForward(xc, w, ys, bs);
        }
        if (bias is null ? Graph.IsRecording(x) : Graph.IsRecording(x, bias))
            Graph.Attach(y, new GgufLinearNode(x.Shape, w), x, bias);
        return y;
    }

    /// <summary>dX = G · W and db = Σ_rows G.</summary>
    private sealed class GgufLinearNode(Shape xShape, GgmlPackedWeight w) : GradNode
    {
        public override Tensor?[] Backward(Tensor g)
        {
            int outF = g.Shape[-1], rows = (int)(g.Numel / outF);
            using var g2 = Ops.Reshape(g, rows, outF);    // (..., out) -> (N, out)
            Tensor? dx = null, db = null;
            if (NeedsGrad(0))
            {
                using var gc = Ops.Contiguous(g2);
                using var dx2 = Tensor.Empty(new Shape(rows, w.Cols), DType.F32, Device.Cpu);
                GgmlPackedProducts.InputGradient(gc, w, dx2.HostStorage.AsSpan<float>(dx2.Offset, dx2.Numel));
                dx = Ops.Reshape(dx2, xShape.ToArray());   // (N, in) -> (..., in)
            }
            if (NeedsGrad(1)) db = Ops.Sum(g2, 0);
            return [dx, db];
        }
    }
}
