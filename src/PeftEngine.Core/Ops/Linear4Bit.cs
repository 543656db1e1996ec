namespace PeftEngine;

/// <summary>
/// The affine map of a Linear layer whose weight is frozen in blockwise 4-bit form (QLoRA's base layer):
/// y = x · dequant(W)ᵀ + b, computed without ever holding all of dequant(W) in F32.
/// </summary>
/// <remarks>
/// Backward, with x flattened to X (N, in) and dy to G (N, out): dX = G · dequant(W), again straight from the
/// 4-bit storage; db = Σ_rows G. W is a quantized constant and gets no gradient (QLoRA trains adapters beside it).
/// </remarks>
public static partial class Ops
{
    /// <summary>y = x · dequant(w)ᵀ + bias for x (..., in) F32, w (out, in) 4-bit and bias (out) F32; y is (..., out) F32.</summary>
    /// <remarks>bitsandbytes: bnb.nn.Linear4bit.forward, i.e. bnb.matmul_4bit(x, weight.t(), bias, quant_state).</remarks>
    public static Tensor Linear4Bit(Tensor x, PackedWeight4Bit w, Tensor? bias = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        if (x.DType != DType.F32)
            throw new ArgumentException($"Linear4Bit: the input must be f32, got {x.DType.Name()}; cast it with .To(DType.F32)");
        if (x.Device != w.Device)
            throw new ArgumentException($"Linear4Bit: the input is on {x.Device} but the 4-bit weight on {w.Device}");
        int outF = w.Rows, inF = w.Cols;
        if (x.Rank == 0 || x.Shape[-1] != inF)
            throw new ArgumentException($"Linear4Bit: input {x.Shape} must end in {inF} features to match the 4-bit weight ({outF}, {inF})");
        if (bias is not null && (bias.DType != DType.F32 || bias.Rank != 1 || bias.Shape[0] != outF))
            throw new ArgumentException($"Linear4Bit: bias must be f32 of shape ({outF},), got {bias.DType.Name()} {bias.Shape}");
        var outDims = x.Shape.ToArray();
        outDims[^1] = outF;
        int rows = Rows(x.Shape);
        var y = Tensor.Empty(Shape.Wrap(outDims), DType.F32, x.Device);
        using (GradMode.Disable())
        {
            using var x2 = Reshape(x, rows, inF);          // (..., in) -> (N, in)
            using var xc = ContiguousNoGrad(x2);
            using var y2 = Reshape(y, rows, outF);         // (..., out) -> (N, out)
            using var b = bias is null ? null : ContiguousNoGrad(bias);
            x.Backend.MatMul4Bit(xc, w, y2, transW: true, b);
        }
        if (bias is null ? Graph.IsRecording(x) : Graph.IsRecording(x, bias))
            Graph.Attach(y, new Linear4BitNode(x.Shape, w), x, bias);
        return y;
    }

    private sealed class Linear4BitNode(Shape xShape, PackedWeight4Bit w) : GradNode
    {
        public override Tensor?[] Backward(Tensor g)
        {
            int outF = g.Shape[-1], rows = Rows(xShape);
            using var g2 = Reshape(g, rows, outF);   // (..., out) -> (N, out)
            using var gc = ContiguousNoGrad(g2);
            Tensor? dx = null, db = null;
            if (NeedsGrad(0))
            {
                using var dx2 = Tensor.Empty(Shape.Wrap([rows, w.Cols]), DType.F32, g.Device);
                g.Backend.MatMul4Bit(gc, w, dx2, transW: false);   // dX = G · dequant(W)
                dx = Reshape(dx2, xShape.ToArray());                // (N, in) -> (..., in)
            }
            if (NeedsGrad(1)) db = Sum(g2, 0);                      // db = Σ_rows G
            return [dx, db];
        }
    }

    /// <summary>The F32 (rows, cols) matrix a 4-bit weight stands for.</summary>
    /// <remarks>bitsandbytes: bnb.functional.dequantize_4bit.</remarks>
    public static Tensor Dequantize4Bit(PackedWeight4Bit w)
    {
        ArgumentNullException.ThrowIfNull(w);
        var y = Tensor.Empty(Shape.Wrap([w.Rows, w.Cols]), DType.F32, w.Device);
        y.Backend.Dequantize4Bit(w, y);
        return y;
    }
}
