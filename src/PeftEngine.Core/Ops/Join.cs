namespace PeftEngine;

/// <summary>
/// Joining and splitting along a dimension: cat, stack, split, chunk.
/// </summary>
/// <remarks>
/// Cat copies each input into its slot of a new tensor; its backward hands each input the matching slice of
/// the gradient. Stack is unsqueeze + cat. Split and chunk return narrow views, so their backward is the
/// narrow's (the slice gradient written into zeros).
/// </remarks>
public static partial class Ops
{
    /// <summary>Joins tensors end to end along <paramref name="dim"/>. All must have the same dtype, device,
    /// rank and sizes in every other dimension.</summary>
    /// <remarks>PyTorch: torch.cat(tensors, dim).</remarks>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        const string op = "Cat";
        if (tensors.Count == 0) throw new ArgumentException($"{op}: needs at least one tensor");
        var inputs = tensors.ToArray();
        var first = inputs[0];
        foreach (var t in inputs) t.ThrowIfDisposed();
        int d = IndexArgs.Dim(first.Shape, dim, op);
        var sizes = new int[inputs.Length];
        long total = 0;
        for (int k = 0; k < inputs.Length; k++)
        {
            var t = inputs[k];
            if (t.DType != first.DType || t.Device != first.Device)
                throw new ArgumentException($"{op}: tensor {k} is {t.DType.Name()} on {t.Device}, tensor 0 is {first.DType.Name()} on {first.Device}");
            bool same = t.Rank == first.Rank;
            for (int e = 0; same && e < t.Rank; e++) same = e == d || t.Shape[e] == first.Shape[e];
            if (!same)
                throw new ArgumentException($"{op}: tensor {k} has shape {t.Shape}, which does not match tensor 0 {first.Shape} outside dimension {d}");
            sizes[k] = t.Shape[d];
            total += sizes[k];
        }
        var dims = first.Shape.ToArray();
        dims[d] = checked((int)total);
        var y = Tensor.Empty(Shape.Wrap(dims), first.DType, first.Device);
        int offset = 0;
        for (int k = 0; k < inputs.Length; k++)
        {
            // Copy input k into y[..., offset : offset + size_k, ...].
            using var slot = Narrow(y, d, offset, sizes[k]);
            first.Backend.Copy(inputs[k], slot);
            offset += sizes[k];
        }
        if (Graph.IsRecording(inputs)) Graph.Attach(y, new CatNode(d, sizes), inputs);
        return y;
    }

    /// <summary>Joins same-shaped tensors along a new dimension <paramref name="dim"/> (0..rank; negative
    /// counts from the end of the result).</summary>
    /// <remarks>PyTorch: torch.stack(tensors, dim). Stacking n tensors of shape (A, B) at dim 1 gives (A, n, B).</remarks>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        const string op = "Stack";
        if (tensors.Count == 0) throw new ArgumentException($"{op}: needs at least one tensor");
        var shape = tensors[0].Shape;
        for (int k = 1; k < tensors.Count; k++)
            if (tensors[k].Shape != shape)
                throw new ArgumentException($"{op}: tensor {k} has shape {tensors[k].Shape}, tensor 0 has {shape}; stacked tensors must have equal shapes");
        int d = dim < 0 ? dim + shape.Rank + 1 : dim;
        if (d < 0 || d > shape.Rank)
            throw new ArgumentOutOfRangeException(nameof(dim), $"{op}: dimension {dim} is out of range for stacking tensors of shape {shape}");
        // each (..., ...) -> (..., 1, ...), then join along the new dimension
        var lifted = tensors.Select(t => Unsqueeze(t, d)).ToArray();
        try { return Cat(lifted, d); }
        finally
        {
            foreach (var t in lifted) t.Dispose();
        }
    }

    /// <summary>Cuts <paramref name="x"/> along <paramref name="dim"/> into consecutive pieces of the given
    /// sizes, which must add up to the size of that dimension. The pieces are views of x.</summary>
    /// <remarks>PyTorch: torch.split(x, [s0, s1, ...], dim).</remarks>
    public static Tensor[] Split(Tensor x, int[] sizes, int dim = 0)
    {
        const string op = "Split";
        x.ThrowIfDisposed();
        int d = IndexArgs.Dim(x.Shape, dim, op);
        long sum = 0;
        foreach (int s in sizes)
        {
            if (s < 0) throw new ArgumentException($"{op}: negative size {s} in ({string.Join(", ", sizes)})");
            sum += s;
        }
        if (sum != x.Shape[d])
            throw new ArgumentException($"{op}: sizes ({string.Join(", ", sizes)}) add up to {sum}, but dimension {d} of {x.Shape} has size {x.Shape[d]}");
        var pieces = new Tensor[sizes.Length];
        int start = 0;
        for (int k = 0; k < sizes.Length; k++)
        {
            pieces[k] = Narrow(x, d, start, sizes[k]);
            start += sizes[k];
        }
        return pieces;
    }

    /// <summary>Cuts <paramref name="x"/> along <paramref name="dim"/> into pieces of
    /// <paramref name="splitSize"/> elements; the last piece is smaller when the size does not divide evenly.</summary>
    /// <remarks>PyTorch: torch.split(x, split_size, dim).</remarks>
    public static Tensor[] Split(Tensor x, int splitSize, int dim = 0)
    {
        const string op = "Split";
        x.ThrowIfDisposed();
        if (splitSize <= 0) throw new ArgumentException($"{op}: split size must be positive, got {splitSize}");
        int d = IndexArgs.Dim(x.Shape, dim, op);
        return Split(x, PieceSizes(x.Shape[d], splitSize), d);
    }

    /// <summary>Cuts <paramref name="x"/> into at most <paramref name="chunks"/> views of equal size along
    /// <paramref name="dim"/> (ceil(n / chunks) each; the last may be smaller, and there may be fewer pieces).</summary>
    /// <remarks>PyTorch: torch.chunk(x, chunks, dim). Splitting a fused QKV projection: Chunk(qkv, 3, -1).</remarks>
    public static Tensor[] Chunk(Tensor x, int chunks, int dim = 0)
    {
        const string op = "Chunk";
        x.ThrowIfDisposed();
        if (chunks <= 0) throw new ArgumentException($"{op}: number of chunks must be positive, got {chunks}");
        int d = IndexArgs.Dim(x.Shape, dim, op);
        int n = x.Shape[d];
        int size = Math.Max(1, (n + chunks - 1) / chunks);
        return Split(x, PieceSizes(n, size), d);
    }

    /// <summary>Sizes of consecutive pieces of at most <paramref name="size"/> covering n (one empty piece when n is 0).</summary>
    private static int[] PieceSizes(int n, int size)
    {
        if (n == 0) return [0];
        var sizes = new int[(n + size - 1) / size];
        for (int k = 0; k < sizes.Length; k++) sizes[k] = Math.Min(size, n - k * size);
        return sizes;
    }

    private sealed class CatNode(int dim, int[] sizes) : GradNode
    {
        public override Tensor?[] Backward(Tensor g)
        {
            // Input k receives g[..., offset_k : offset_k + size_k, ...].
            var grads = new Tensor?[sizes.Length];
            int offset = 0;
            for (int k = 0; k < sizes.Length; k++)
            {
                if (NeedsGrad(k)) grads[k] = Narrow(g, dim, offset, sizes[k]);
                offset += sizes[k];
            }
            return grads;
        }
    }
}
