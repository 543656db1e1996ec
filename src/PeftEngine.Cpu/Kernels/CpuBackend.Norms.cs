using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>The row blocks that the weight and bias gradients of a norm are summed over: at most this many,
    /// a number fixed by the row count alone, so the sums come out the same on any number of threads.</summary>
    private const int NormBlocks = 32;

    public void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor y, Tensor mean, Tensor rstd)
    {
        switch (x.DType)
        {
            case DType.F32: LayerNormRows<float>(x, weight, bias, eps, y, mean, rstd); break;
            case DType.F64: LayerNormRows<double>(x, weight, bias, eps, y, mean, rstd); break;
            default: throw Unsupported("LayerNorm", x.DType);
        }
    }

    public void LayerNormBackward(Tensor x, Tensor? weight, Tensor mean, Tensor rstd, Tensor dy,
        Tensor? dx, Tensor? dweight, Tensor? dbias)
    {
        switch (x.DType)
        {
            case DType.F32: NormBackward<float>(x, weight, mean, rstd, dy, dx, dweight, dbias); break;
            case DType.F64: NormBackward<double>(x, weight, mean, rstd, dy, dx, dweight, dbias); break;
            default: throw Unsupported("LayerNormBackward", x.DType);
        }
    }

    public void RmsNorm(Tensor x, Tensor? weight, double eps, Tensor y, Tensor rstd)
    {
        switch (x.DType)
        {
            case DType.F32: RmsNormRows<float>(x, weight, eps, y, rstd); break;
            case DType.F64: RmsNormRows<double>(x, weight, eps, y, rstd); break;
            default: throw Unsupported("RmsNorm", x.DType);
        }
    }

    public void RmsNormBackward(Tensor x, Tensor? weight, Tensor rstd, Tensor dy, Tensor? dx, Tensor? dweight)
    {
        switch (x.DType)
        {
            case DType.F32: NormBackward<float>(x, weight, null, rstd, dy, dx, dweight, null); break;
            case DType.F64: NormBackward<double>(x, weight, null, rstd, dy, dx, dweight, null); break;
            default: throw Unsupported("RmsNormBackward", x.DType);
        }
    }

    private static void LayerNormRows<T>(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor y, Tensor mean, Tensor rstd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (rows, n) = ReferenceBackend.RowsOf(x);
        T* px = Ptr<T>(x), py = Ptr<T>(y), pm = Ptr<T>(mean), prs = Ptr<T>(rstd);
        T* pw = weight is null ? null : Ptr<T>(weight), pb = bias is null ? null : Ptr<T>(bias);
        T epsT = T.CreateTruncating(eps), count = T.CreateTruncating(n);
        CpuParallel.For(rows, n * 5L, (r0, r1) =>
        {
            var w = new ReadOnlySpan<T>(pw, pw == null ? 0 : n);
            var b = new ReadOnlySpan<T>(pb, pb == null ? 0 : n);
            for (long r = r0; r < r1; r++)
            {
                var xr = new ReadOnlySpan<T>(px + r * n, n);
                var yr = new Span<T>(py + r * n, n);
                // Two passes (mean, then the squares of x - mean) keep the variance accurate in f32.
                T mu = TensorPrimitives.Sum(xr) / count;
                TensorPrimitives.Subtract(xr, mu, yr);
                T rs = T.One / T.Sqrt(TensorPrimitives.SumOfSquares<T>(yr) / count + epsT);
                pm[r] = mu;
                prs[r] = rs;
                // y = x̂ w + b
                if (pw != null)
                {
                    TensorPrimitives.Multiply(yr, rs, yr);
                    if (pb != null) TensorPrimitives.MultiplyAdd(yr, w, b, yr);
                    else TensorPrimitives.Multiply(yr, w, yr);
                }
                else if (pb != null) TensorPrimitives.MultiplyAdd(yr, rs, b, yr);
                else TensorPrimitives.Multiply(yr, rs, yr);
            }
        });
    }

    private static void RmsNormRows<T>(Tensor x, Tensor? weight, double eps, Tensor y, Tensor rstd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (rows, n) = ReferenceBackend.RowsOf(x);
        T* px = Ptr<T>(x), py = Ptr<T>(y), prs = Ptr<T>(rstd);
        T* pw = weight is null ? null : Ptr<T>(weight);
        T epsT = T.CreateTruncating(eps), count = T.CreateTruncating(n);
        CpuParallel.For(rows, n * 3L, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                var xr = new ReadOnlySpan<T>(px + r * n, n);
                var yr = new Span<T>(py + r * n, n);
                T rs = T.One / T.Sqrt(TensorPrimitives.SumOfSquares(xr) / count + epsT);
                prs[r] = rs;
                TensorPrimitives.Multiply(xr, rs, yr);
                if (pw != null) TensorPrimitives.Multiply(yr, new ReadOnlySpan<T>(pw, n), yr);
            }
        });
    }

    /// <summary>
    /// Backward of layer norm (<paramref name="mean"/> given) or RMS norm (<paramref name="mean"/> null: x̂ = x rstd,
    /// and no mean_j(g) term). Rows run in parallel; dweight and dbias are summed per row block into partial
    /// vectors, which are then added in block order.
    /// </summary>
    private static void NormBackward<T>(Tensor x, Tensor? weight, Tensor? mean, Tensor rstd, Tensor dy,
        Tensor? dx, Tensor? dweight, Tensor? dbias) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (rows, n) = ReferenceBackend.RowsOf(x);
        T* px = Ptr<T>(x), prs = Ptr<T>(rstd), pg = Ptr<T>(dy);
        T* pm = mean is null ? null : Ptr<T>(mean);
        T* pw = weight is null ? null : Ptr<T>(weight);
        T* pdx = dx is null ? null : Ptr<T>(dx);
        int blocks = (int)Math.Min(rows, NormBlocks);
        if (blocks == 0)
        {
            if (dweight is not null) Span<T>(dweight).Clear();
            if (dbias is not null) Span<T>(dbias).Clear();
            return;
        }
        long blockRows = (rows + blocks - 1) / blocks;
        blocks = (int)((rows + blockRows - 1) / blockRows);
        T[]? partW = dweight is null ? null : ArrayPool<T>.Shared.Rent(blocks * n);
        T[]? partB = dbias is null ? null : ArrayPool<T>.Shared.Rent(blocks * n);
        T count = T.CreateTruncating(n);
        try
        {
            CpuParallel.For(blocks, blockRows * n * 8, (b0, b1) =>
            {
                var xhat = ArrayPool<T>.Shared.Rent(n);
                var weighted = ArrayPool<T>.Shared.Rent(n);   // dy w
                try
                {
                    for (long blk = b0; blk < b1; blk++)
                    {
                        var dwB = partW is null ? default : partW.AsSpan((int)blk * n, n);
                        var dbB = partB is null ? default : partB.AsSpan((int)blk * n, n);
                        dwB.Clear();
                        dbB.Clear();
                        long end = Math.Min(rows, (blk + 1) * blockRows);
                        for (long r = blk * blockRows; r < end; r++)
                            NormBackwardRow(r, n, count, px, pm, prs, pw, pg, pdx, xhat.AsSpan(0, n), weighted.AsSpan(0, n), dwB, dbB);
                    }
                }
                finally
                {
                    ArrayPool<T>.Shared.Return(xhat);
                    ArrayPool<T>.Shared.Return(weighted);
                }
            });
            if (partW is not null) SumBlocks(partW, blocks, n, Span<T>(dweight!));
            if (partB is not null) SumBlocks(partB, blocks, n, Span<T>(dbias!));
        }
        finally
        {
            if (partW is not null) ArrayPool<T>.Shared.Return(partW);
            if (partB is not null) ArrayPool<T>.Shared.Return(partB);
        }
    }

    private static void NormBackwardRow<T>(long r, int n, T count, T* px, T* pm, T* prs, T* pw, T* pg, T* pdx,
        Span<T> xhat, Span<T> g, Span<T> dwB, Span<T> dbB) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xr = new ReadOnlySpan<T>(px + r * n, n);
        var gr = new ReadOnlySpan<T>(pg + r * n, n);
        T rs = prs[r];
        // x̂ = (x - mean) rstd, or x rstd for RMS norm
        if (pm != null)
        {
            TensorPrimitives.Subtract(xr, pm[r], xhat);
            TensorPrimitives.Multiply(xhat, rs, xhat);
        }
        else TensorPrimitives.Multiply(xr, rs, xhat);
        if (!dwB.IsEmpty) TensorPrimitives.MultiplyAdd(gr, xhat, dwB, dwB); // dweight += dy x̂
        if (!dbB.IsEmpty) TensorPrimitives.Add(dbB, gr, dbB);               // dbias += dy
        if (pdx == null) return;

        // g = dy w; dx = rstd (g - mean_j(g) - x̂ mean_j(g x̂)), without the mean_j(g) term for RMS norm
        if (pw != null) TensorPrimitives.Multiply(gr, new ReadOnlySpan<T>(pw, n), g);
        else gr.CopyTo(g);
        T meanGX = TensorPrimitives.Dot<T>(g, xhat) / count;
        T meanG = pm != null ? TensorPrimitives.Sum<T>(g) / count : T.Zero;
        var dr = new Span<T>(pdx + r * n, n);
        TensorPrimitives.MultiplyAdd(xhat, -meanGX, g, dr); // g - x̂ mean(g x̂)
        TensorPrimitives.Add(dr, -meanG, dr);
        TensorPrimitives.Multiply(dr, rs, dr);
    }

    /// <summary>dst = Σ_b partial[b], adding the block vectors in order.</summary>
    private static void SumBlocks<T>(T[] partial, int blocks, int n, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        partial.AsSpan(0, n).CopyTo(dst);
        for (int b = 1; b < blocks; b++) TensorPrimitives.Add(dst, partial.AsSpan(b * n, n), dst);
    }
}
