namespace PeftEngine;

/// <summary>Elementwise selection between two tensors by a mask, with broadcasting of all three.</summary>
public static partial class Ops
{
    /// <summary>
    /// cond ? a : b elementwise. <paramref name="cond"/> is a U8 mask (any non-zero byte is true), e.g. from
    /// <see cref="Lt(Tensor, Tensor)"/>; a and b share a dtype (any dtype). All three broadcast to one shape.
    /// </summary>
    /// <remarks>PyTorch: torch.where(cond, a, b). Backward: da = where(cond, dy, 0), db = where(cond, 0, dy);
    /// the mask gets no gradient.</remarks>
    public static Tensor Where(Tensor cond, Tensor a, Tensor b)
    {
        cond.ThrowIfDisposed();
        a.ThrowIfDisposed();
        b.ThrowIfDisposed();
        if (cond.DType != DType.U8)
            throw new ArgumentException($"Where: the condition must be a u8 mask, got {cond.DType.Name()} {cond.Shape}; make one with a comparison such as Ops.Gt");
        CheckSameDevice(cond, a, "Where");
        CheckSameDevice(a, b, "Where");
        if (a.DType != b.DType)
            throw new ArgumentException($"Where: dtypes differ ({a.Shape} {a.DType.Name()} vs {b.Shape} {b.DType.Name()}); cast one with .To(dtype)");
        var shape = Shape.Broadcast(Shape.Broadcast(cond.Shape, a.Shape), b.Shape);
        var y = Tensor.Empty(shape, a.DType, a.Device);
        using (var ec = ExpandNoGrad(cond, shape))
        using (var ea = ExpandNoGrad(a, shape))
        using (var eb = ExpandNoGrad(b, shape))
            a.Backend.Where(ec, ea, eb, y);
        if (Graph.IsRecording(a, b)) Graph.Attach(y, new WhereNode(cond), a, b);
        return y;
    }

    /// <summary>cond ? a : s elementwise (PyTorch: torch.where(cond, a, s); masked_fill(~cond, s)).</summary>
    public static Tensor Where(Tensor cond, Tensor a, double s)
    {
        a.ThrowIfDisposed();
        using var t = Tensor.Scalar(s, a.DType, a.Device);
        return Where(cond, a, t);
    }

    /// <summary>cond ? s : b elementwise (PyTorch: torch.where(cond, s, b); masked_fill(cond, s)).</summary>
    public static Tensor Where(Tensor cond, double s, Tensor b)
    {
        b.ThrowIfDisposed();
        using var t = Tensor.Scalar(s, b.DType, b.Device);
        return Where(cond, t, b);
    }

    private sealed class WhereNode : GradNode
    {
        private readonly SavedTensor _cond;

        public WhereNode(Tensor cond) => _cond = Save(cond);

        public override Tensor?[] Backward(Tensor g)
        {
            // Gradients in g's (broadcast) shape; the engine sums them down to a's and b's shapes.
            var cond = _cond.Value;
            using var zero = Tensor.Zeros(new Shape(), g.DType, g.Device);
            return [NeedsGrad(0) ? Where(cond, g, zero) : null, NeedsGrad(1) ? Where(cond, zero, g) : null];
        }
    }
}
