namespace PeftEngine;

/// <summary>
/// Tensors made from a rule rather than from data: ranges, one-hot encodings, triangles and the masks that
/// causal attention uses.
/// </summary>
/// <remarks>Tril and Triu are differentiable: the gradient goes through the same triangle (d tril(x) = tril(g)).</remarks>
public static partial class Ops
{
    /// <summary>The values start, start + step, ... below <paramref name="end"/> (above it for a negative step),
    /// as a 1-D tensor of ceil((end - start) / step) elements.</summary>
    /// <remarks>PyTorch: torch.arange(start, end, step, dtype). dtype is F32, F64 or I64.</remarks>
    public static Tensor Arange(double start, double end, double step = 1, DType dtype = DType.F32, Device? device = null)
    {
        const string op = "Arange";
        if (dtype is not (DType.F32 or DType.F64 or DType.I64))
            throw new ArgumentException($"{op}: dtype must be f32, f64 or i64, got {dtype.Name()}");
        if (!double.IsFinite(start) || !double.IsFinite(end) || !double.IsFinite(step))
            throw new ArgumentException($"{op}: start {start}, end {end} and step {step} must be finite");
        if (step == 0) throw new ArgumentException($"{op}: step must not be zero");
        if ((end - start) * step < 0)
            throw new ArgumentException($"{op}: a step of {step} never goes from {start} to {end}");
        double count = Math.Ceiling((end - start) / step);
        if (count > int.MaxValue) throw new ArgumentException($"{op}: [{start}, {end}) in steps of {step} has {count} elements, too many");
        var y = Tensor.Empty(new Shape((int)count), dtype, device);
        y.Backend.Arange(y, start, step);
        return y;
    }

    /// <summary>One-hot rows: for indices of shape S the result has shape (S..., numClasses), with 1 at each
    /// index and 0 elsewhere. numClasses -1 uses the largest index + 1.</summary>
    /// <remarks>PyTorch: torch.nn.functional.one_hot(indices, num_classes) (which returns int64; here dtype may
    /// also be F32 or F64). Not differentiable.</remarks>
    public static Tensor OneHot(Tensor indices, int numClasses = -1, DType dtype = DType.I64)
    {
        const string op = "OneHot";
        indices.ThrowIfDisposed();
        if (indices.DType != DType.I64)
            throw new ArgumentException($"{op}: indices must be i64, got {indices.DType.Name()} {indices.Shape}");
        if (dtype is not (DType.F32 or DType.F64 or DType.I64))
            throw new ArgumentException($"{op}: dtype must be f32, f64 or i64, got {dtype.Name()}");
        if (numClasses == -1)
            numClasses = indices.Numel == 0 ? 0 : checked((int)Math.Max(0, indices.ToArray<long>().Max() + 1));
        if (numClasses < 0) throw new ArgumentException($"{op}: number of classes must be -1 or at least 0, got {numClasses}");

        // one_hot(idx) = zeros(S..., C).scatter_add(-1, idx[..., None], ones(S..., 1))
        var outDims = indices.Shape.ToArray().Append(numClasses).ToArray();
        var idxDims = indices.Shape.ToArray().Append(1).ToArray();
        using var idx = IndexArgs.Contiguous(indices, Shape.Wrap(outDims), outDims.Length - 1, op);
        using var column = idx.ViewAs(Shape.Wrap(idxDims), Shape.Wrap(idxDims).ContiguousStrides(), idx.Offset);
        var floatType = dtype == DType.F64 ? DType.F64 : DType.F32;
        using var ones = Tensor.Ones(column.Shape, floatType, indices.Device);
        var y = Tensor.Zeros(Shape.Wrap(outDims), floatType, indices.Device);
        if (numClasses > 0) y.Backend.ScatterAdd(y, outDims.Length - 1, column, ones);
        if (dtype == floatType) return y;
        using (y) return Cast(y, dtype);
    }

    /// <summary>The lower triangle of each matrix in the last two dimensions: elements with column &lt;= row +
    /// <paramref name="diagonal"/> are kept, the rest are zero. diagonal 0 keeps the main diagonal, -1 drops it.</summary>
    /// <remarks>PyTorch: torch.tril(x, diagonal).</remarks>
    public static Tensor Tril(Tensor x, int diagonal = 0) => TriangleForward(x, diagonal, upper: false);

    /// <summary>The upper triangle of each matrix in the last two dimensions: elements with column &gt;= row +
    /// <paramref name="diagonal"/> are kept, the rest are zero. diagonal 1 drops the main diagonal.</summary>
    /// <remarks>PyTorch: torch.triu(x, diagonal).</remarks>
    public static Tensor Triu(Tensor x, int diagonal = 0) => TriangleForward(x, diagonal, upper: true);

    /// <summary>A U8 (rows, cols) mask with 1 on and below the diagonal (column &lt;= row + diagonal) and 0 above it.</summary>
    /// <remarks>PyTorch: torch.tril(torch.ones(rows, cols, dtype=torch.uint8), diagonal).</remarks>
    public static Tensor TrilMask(int rows, int cols, int diagonal = 0, Device? device = null)
    {
        using var ones = Tensor.Ones(new Shape(rows, cols), DType.U8, device);
        return Tril(ones, diagonal);
    }

    /// <summary>The U8 (size, size) mask of what causal attention must hide: 1 where the key comes after the
    /// query (column &gt; row), 0 elsewhere. Use it as <c>MaskedFill(scores, FutureMask(T), double.NegativeInfinity)</c>;
    /// <see cref="CausalMask"/> gives the same mask in additive form.</summary>
    /// <remarks>PyTorch: torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1).</remarks>
    public static Tensor FutureMask(int size, Device? device = null)
    {
        using var ones = Tensor.Ones(new Shape(size, size), DType.U8, device);
        return Triu(ones, 1);
    }

    private static Tensor TriangleForward(Tensor x, int diagonal, bool upper)
    {
        string op = upper ? "Triu" : "Tril";
        x.ThrowIfDisposed();
        if (x.Rank < 2) throw new ArgumentException($"{op}: needs a tensor of at least 2 dimensions, got {x.Shape}");
        using var xc = ContiguousNoGrad(x);
        var y = Tensor.EmptyLike(x);
        x.Backend.Triangle(xc, y, diagonal, upper);
        if (Graph.IsRecording(x)) Graph.Attach(y, new TriangleNode(diagonal, upper), x);
        return y;
    }

    private sealed class TriangleNode(int diagonal, bool upper) : GradNode
    {
        public override string Name => upper ? "Triu" : "Tril";
        public override Tensor?[] Backward(Tensor g) => [TriangleForward(g, diagonal, upper)];
    }
}
