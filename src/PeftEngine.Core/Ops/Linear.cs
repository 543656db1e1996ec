namespace PeftEngine;

/// <summary>
/// The affine map of a fully connected layer, y = x · Wᵀ + b, as one op: the GEMM reads W (out, in) through
/// its transpose flag and adds the bias to each row of y as it writes it (no pass of its own over y).
/// </summary>
/// <remarks>
/// Backward, with x flattened to X (N, in) and dy to G (N, out):
/// dX = G · W (N, in); dW = Gᵀ · X (out, in), one GEMM whose shared dimension runs over all N rows of the
/// batch; db = Σ_rows G. A frozen W saves no X and computes no dW; an x that needs no gradient saves no W.
/// A 16-bit W is always frozen: dX = G · W then reads it in 16 bits, like the forward pass.
/// </remarks>
public static partial class Ops
{
    /// <summary>y = x · wᵀ + bias for x of shape (..., in), w of shape (out, in) and bias (out); y is (..., out).</summary>
    /// <remarks>PyTorch: torch.nn.functional.linear(x, w, bias). Dtypes follow <see cref="ProductDType"/>: a bf16 or
    /// f16 weight (a frozen base) with an f32 input gives an f32 output, the weight widened as the GEMM packs it;
    /// the bias then has the output's dtype.</remarks>
    public static Tensor Linear(Tensor x, Tensor w, Tensor? bias = null)
    {
        var dtype = ProductDType(x, w, "Linear");
        if (w.Rank != 2)
            throw new ArgumentException($"Linear: the weight must be 2-D (out, in), got {w.Shape}");
        int outF = w.Shape[0], inF = w.Shape[1];
        if (x.Rank == 0 || x.Shape[-1] != inF)
            throw new ArgumentException($"Linear: input {x.Shape} must end in {inF} features to match the weight {w.Shape}");
        if (bias is not null)
        {
            CheckSameDevice(x, bias, "Linear bias");
            if (bias.DType != dtype)
                throw new ArgumentException($"Linear: bias must have the output's dtype {dtype.Name()}, got {bias.DType.Name()}; cast it with .To(dtype)");
            if (bias.Rank != 1 || bias.Shape[0] != outF)
                throw new ArgumentException($"Linear: bias must have shape ({outF},) to match the weight {w.Shape}, got {bias.Shape}");
        }
        var outDims = x.Shape.ToArray();
        outDims[^1] = outF;
        int rows = Rows(x.Shape);
        var y = Tensor.Empty(Shape.Wrap(outDims), dtype, x.Device);
        using (GradMode.Disable())
        {
            using var x2 = Reshape(x, rows, inF);  // (..., in) -> (N, in)
            using var y2 = Reshape(y, rows, outF); // (..., out) -> (N, out)
            using var b = bias is null ? null : ContiguousNoGrad(bias);
            GemmNoGrad(x2, w, y2, transB: true, bias: b);
        }
        if (Graph.IsRecording(x, w, bias))
            Graph.Attach(y, new LinearNode(x.Shape, w.RequiresGrad ? x : null, x.RequiresGrad ? w : null), x, w, bias);
        return y;
    }

    /// <summary>The number of feature vectors in an input of shape (..., in): the product of the leading sizes.</summary>
    private static int Rows(Shape x)
    {
        long n = 1;
        for (int d = 0; d < x.Rank - 1; d++) n *= x.Dims[d];
        return checked((int)n);
    }

    private sealed class LinearNode : GradNode
    {
        private readonly Shape _xShape;
        private readonly SavedTensor? _x, _w;

        /// <param name="xShape">The input's shape.</param>
        /// <param name="xForGradW">x, saved only when w needs a gradient.</param>
        /// <param name="wForGradX">w, saved only when x needs a gradient.</param>
        public LinearNode(Shape xShape, Tensor? xForGradW, Tensor? wForGradX)
        {
            _xShape = xShape;
            if (xForGradW is not null) _x = Save(xForGradW);
            if (wForGradX is not null) _w = Save(wForGradX);
        }

        public override Tensor?[] Backward(Tensor g)
        {
            int outF = g.Shape[-1], rows = Rows(_xShape);
            using var g2 = Reshape(g, rows, outF); // (..., out) -> (N, out)
            Tensor? dx = null, dw = null, db = null;
            if (NeedsGrad(0))
            {
                var w = _w!.Value;
                using var dx2 = Tensor.Empty(Shape.Wrap([rows, w.Shape[1]]), g.DType, g.Device);
                GemmNoGrad(g2, w, dx2); // dX = G · W
                dx = Reshape(dx2, _xShape.ToArray());
            }
            if (NeedsGrad(1))
            {
                using var x2 = Reshape(_x!.Value, rows, _xShape[-1]);
                dw = Tensor.Empty(Shape.Wrap([outF, _xShape[-1]]), g.DType, g.Device);
                GemmNoGrad(g2, x2, dw, transA: true); // dW = Gᵀ · X
            }
            if (NeedsGrad(2)) db = Sum(g2, 0); // db = Σ_rows G
            return [dx, dw, db];
        }
    }
}
