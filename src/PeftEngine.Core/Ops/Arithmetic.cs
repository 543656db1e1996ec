namespace PeftEngine;

/// <summary>
/// The four arithmetic operations with NumPy broadcasting, their scalar forms and in-place forms.
/// </summary>
/// <remarks>
/// Backward: d(a+b) = (g, g); d(a-b) = (g, -g); d(a*b) = (g*b, g*a); d(a/b) = (g/b, -g*a/b²).
/// Gradients come back in the broadcast shape; the engine sums them to each input's shape.
/// </remarks>
public static partial class Ops
{
    /// <summary>a + b.</summary>
    public static Tensor Add(Tensor a, Tensor b) => BinaryForward(BinaryOp.Add, a, b, (a2, b2) => new AddNode(sub: false));

    /// <summary>a - b.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => BinaryForward(BinaryOp.Sub, a, b, (a2, b2) => new AddNode(sub: true));

    /// <summary>a * b (elementwise).</summary>
    public static Tensor Mul(Tensor a, Tensor b) =>
        BinaryForward(BinaryOp.Mul, a, b, (a2, b2) => new MulNode(b2.RequiresGrad ? a2 : null, a2.RequiresGrad ? b2 : null));

    /// <summary>a / b (elementwise).</summary>
    public static Tensor Div(Tensor a, Tensor b) =>
        BinaryForward(BinaryOp.Div, a, b, (a2, b2) => new DivNode(b2.RequiresGrad ? a2 : null, b2));

    /// <summary>x + s.</summary>
    public static Tensor Add(Tensor x, double s) => UnaryForward(UnaryOp.AddScalar, x, s);

    /// <summary>x * s.</summary>
    public static Tensor Mul(Tensor x, double s) => UnaryForward(UnaryOp.MulScalar, x, s);

    /// <summary>-x.</summary>
    public static Tensor Neg(Tensor x) => UnaryForward(UnaryOp.Neg, x);

    /// <summary>dst += src in place (no graph; src broadcasts to dst). Bumps dst's version.</summary>
    public static void AddInPlace(Tensor dst, Tensor src) => BinaryInPlace(BinaryOp.Add, dst, src);

    /// <summary>dst -= src in place (no graph).</summary>
    public static void SubInPlace(Tensor dst, Tensor src) => BinaryInPlace(BinaryOp.Sub, dst, src);

    /// <summary>dst *= src in place (no graph).</summary>
    public static void MulInPlace(Tensor dst, Tensor src) => BinaryInPlace(BinaryOp.Mul, dst, src);

    /// <summary>dst *= s in place (no graph).</summary>
    public static void MulInPlace(Tensor dst, double s) => UnaryInPlace(UnaryOp.MulScalar, dst, s);

    /// <summary>Sets every element of dst to value in place (no graph).</summary>
    public static void FillInPlace(Tensor dst, double value)
    {
        CheckInPlace(dst, "FillInPlace");
        dst.Backend.Fill(dst, value);
        dst.Storage.BumpVersion();
    }

    /// <summary>Copies src (broadcast to dst's shape) into dst in place (no graph).</summary>
    public static void CopyInPlace(Tensor dst, Tensor src)
    {
        CheckInPlace(dst, "CopyInPlace");
        CheckSameDevice(dst, src, "CopyInPlace");
        if (dst.DType != src.DType) throw new ArgumentException($"CopyInPlace: dtype {src.DType.Name()} into {dst.DType.Name()}; cast first");
        using var s = Expand(src, dst.Shape.ToArray());
        dst.Backend.Copy(s, dst);
        dst.Storage.BumpVersion();
    }


    internal static Tensor BinaryForward(BinaryOp op, Tensor a, Tensor b, Func<Tensor, Tensor, GradNode> makeNode)
    {
        CheckBinary(a, b, op.ToString());
        var shape = Shape.Broadcast(a.Shape, b.Shape);
        var y = Tensor.Empty(shape, a.DType, a.Device);
        using (var ea = ExpandNoGrad(a, shape))
        using (var eb = ExpandNoGrad(b, shape))
            a.Backend.Binary(op, ea, eb, y);
        if (Graph.IsRecording(a, b)) Graph.Attach(y, makeNode(a, b), a, b);
        return y;
    }

    internal static Tensor UnaryForward(UnaryOp op, Tensor x, double alpha = 0, double beta = 0)
    {
        x.ThrowIfDisposed();
        DTypes.RequireCompute(x, op.ToString());
        var y = Tensor.EmptyLike(x);
        x.Backend.Unary(op, x, y, alpha, beta);
        if (Graph.IsRecording(x)) Graph.Attach(y, new UnaryNode(op, x, alpha, beta), x);
        return y;
    }

    private static void BinaryInPlace(BinaryOp op, Tensor dst, Tensor src)
    {
        CheckInPlace(dst, op + "InPlace");
        CheckBinary(dst, src, op + "InPlace");
        using var s = ExpandNoGrad(src, dst.Shape);
        dst.Backend.Binary(op, dst, s, dst);
        dst.Storage.BumpVersion();
    }

    private static void UnaryInPlace(UnaryOp op, Tensor dst, double alpha)
    {
        CheckInPlace(dst, op + "InPlace");
        DTypes.RequireCompute(dst, op.ToString());
        dst.Backend.Unary(op, dst, dst, alpha);
        dst.Storage.BumpVersion();
    }

    /// <summary>A broadcast view of x with the given shape, not recorded in the graph.</summary>
    internal static Tensor ExpandNoGrad(Tensor x, Shape shape)
    {
        using (GradMode.Disable()) return Expand(x, shape.ToArray());
    }

    private static void CheckInPlace(Tensor dst, string op)
    {
        dst.ThrowIfDisposed();
        if (GradMode.IsEnabled && dst.RequiresGrad)
            throw new InvalidOperationException($"{op}: in-place change of a tensor {dst.Shape} that requires grad; do it under GradMode.Disable()");
    }

    internal static void CheckSameDevice(Tensor a, Tensor b, string op)
    {
        if (a.Device != b.Device)
            throw new ArgumentException($"{op}: tensors on different devices ({a.Shape} on {a.Device}, {b.Shape} on {b.Device}); move one with .To(device)");
    }

    internal static void CheckBinary(Tensor a, Tensor b, string op)
    {
        a.ThrowIfDisposed();
        b.ThrowIfDisposed();
        CheckSameDevice(a, b, op);
        if (a.DType != b.DType)
            throw new ArgumentException($"{op}: dtypes differ ({a.Shape} {a.DType.Name()} vs {b.Shape} {b.DType.Name()}); cast one with .To(dtype)");
        DTypes.RequireCompute(a, op);
    }

    private sealed class AddNode(bool sub) : GradNode
    {
        public override string Name => sub ? "Sub" : "Add";
        public override Tensor?[] Backward(Tensor g) =>
            [NeedsGrad(0) ? g.Alias() : null, NeedsGrad(1) ? (sub ? Neg(g) : g.Alias()) : null];
    }

    private sealed class MulNode : GradNode
    {
        private readonly SavedTensor? _a, _b;
        public MulNode(Tensor? a, Tensor? b)
        {
            if (a is not null) _a = Save(a);
            if (b is not null) _b = Save(b);
        }
        public override Tensor?[] Backward(Tensor g) =>
            [NeedsGrad(0) ? Mul(g, _b!.Value) : null, NeedsGrad(1) ? Mul(g, _a!.Value) : null];
    }

    private sealed class DivNode : GradNode
    {
        private readonly SavedTensor? _a;
        private readonly SavedTensor _b;
        public DivNode(Tensor? a, Tensor b)
        {
            if (a is not null) _a = Save(a);
            _b = Save(b);
        }
        public override Tensor?[] Backward(Tensor g)
        {
            var b = _b.Value;
            var ga = Div(g, b);
            if (!NeedsGrad(1)) return [NeedsGrad(0) ? ga : Dispose(ga), null];
            // d/db (a / b) = -a / b² = -(g / b) * (a / b)
            using var q = Div(_a!.Value, b);
            using var t = Mul(ga, q);
            var gb = Neg(t);
            return [NeedsGrad(0) ? ga : Dispose(ga), gb];
        }
    }

    /// <summary>Backward of every <see cref="UnaryOp"/>: dx = dy * f'(x), one fused kernel.</summary>
    internal sealed class UnaryNode : GradNode
    {
        private readonly UnaryOp _op;
        private readonly SavedTensor _x;
        private readonly double _alpha, _beta;
        public UnaryNode(UnaryOp op, Tensor x, double alpha, double beta)
        {
            _op = op;
            _x = Save(x);
            _alpha = alpha;
            _beta = beta;
        }
        public override string Name => _op.ToString();
        public override Tensor?[] Backward(Tensor g)
        {
            var x = _x.Value;
            using var gc = ContiguousNoGrad(g);
            var dx = Tensor.EmptyLike(x);
            x.Backend.UnaryBackward(_op, x, gc, dx, _alpha, _beta);
            return [dx];
        }
    }

    private static Tensor? Dispose(Tensor t)
    {
        t.Dispose();
        return null;
    }
}
