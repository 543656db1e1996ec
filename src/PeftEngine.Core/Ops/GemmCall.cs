namespace PeftEngine;

public static partial class Ops
{
    /// <summary>
    /// Runs <see cref="IBackend.Gemm"/> over any number of batch dimensions:
    /// <c>c[..] = alpha · op(a[..]) · op(b[..]) + beta · c[..]</c>. c is contiguous with shape (batch..., m, n);
    /// a and b have the same number of dimensions or fewer, and their batch dimensions broadcast to c's
    /// (a missing or size-1 dimension becomes a stride-0 one). No graph is recorded and nothing is copied:
    /// batch dimensions that lie back to back in all three tensors are merged into the kernel's one batch
    /// dimension, and any others are looped over here. A bias (n, contiguous, c's dtype) is added to every row of c.
    /// </summary>
    internal static void GemmNoGrad(Tensor a, Tensor b, Tensor c, bool transA = false, bool transB = false, double alpha = 1, double beta = 0,
        Tensor? bias = null)
    {
        int nb = c.Rank - 2;
        if (nb < 0 || a.Rank < 2 || b.Rank < 2 || a.Rank - 2 > nb || b.Rank - 2 > nb)
            throw new ArgumentException($"Gemm: expected matrices with batch dimensions, got a {a.Shape}, b {b.Shape}, c {c.Shape}");
        if (!c.IsContiguous) throw new ArgumentException($"Gemm: the output {c.Shape} must be contiguous");
        var batch = c.Shape.Dims[..nb].ToArray();
        long[] sa = BatchStrides(a, batch), sb = BatchStrides(b, batch);
        long[] sc = c.Shape.ContiguousStrides();

        // Merge batch dimensions from the innermost outwards while each one steps over the whole group after it.
        var groups = new List<(int Size, long A, long B, long C)>();
        for (int d = nb - 1; d >= 0; d--)
        {
            if (batch[d] == 1) continue;
            if (groups.Count > 0)
            {
                var g = groups[^1];
                if (sa[d] == g.A * g.Size && sb[d] == g.B * g.Size && sc[d] == g.C * g.Size)
                {
                    groups[^1] = (g.Size * batch[d], g.A, g.B, g.C);
                    continue;
                }
            }
            groups.Add((batch[d], sa[d], sb[d], sc[d]));
        }
        var inner = groups.Count > 0 ? groups[0] : (Size: 1, A: 0L, B: 0L, C: 0L);
        var outer = groups.Skip(1).ToArray(); // innermost first

        long outerCount = 1;
        foreach (var g in outer) outerCount *= g.Size;
        var backend = c.Backend;
        for (long o = 0; o < outerCount; o++)
        {
            long offA = a.Offset, offB = b.Offset, offC = c.Offset, rest = o;
            foreach (var g in outer)
            {
                long i = rest % g.Size;
                rest /= g.Size;
                offA += i * g.A;
                offB += i * g.B;
                offC += i * g.C;
            }
            // (batch..., rows, cols) -> (merged batch, rows, cols), as views
            using var a3 = a.ViewAs(Shape.Wrap([inner.Size, a.Shape[-2], a.Shape[-1]]), [inner.A, a.Strides[^2], a.Strides[^1]], offA);
            using var b3 = b.ViewAs(Shape.Wrap([inner.Size, b.Shape[-2], b.Shape[-1]]), [inner.B, b.Strides[^2], b.Strides[^1]], offB);
            using var c3 = c.ViewAs(Shape.Wrap([inner.Size, c.Shape[-2], c.Shape[-1]]), [inner.C, c.Shape[-1], 1], offC);
            backend.Gemm(a3, b3, c3, transA, transB, alpha, beta, bias);
        }
    }

    /// <summary>The strides of x's batch dimensions once right-aligned and broadcast to <paramref name="batch"/>
    /// (0 where x lacks the dimension or has size 1).</summary>
    private static long[] BatchStrides(Tensor x, int[] batch)
    {
        int xb = x.Rank - 2, shift = batch.Length - xb;
        var s = new long[batch.Length];
        for (int d = shift; d < batch.Length; d++)
        {
            int size = x.Shape[d - shift];
            if (size != batch[d] && size != 1)
                throw new ArgumentException($"Gemm: batch dimensions of {x.Shape} do not broadcast to ({string.Join(", ", batch)})");
            s[d] = size == 1 ? 0 : x.Strides[d - shift];
        }
        return s;
    }
}
