using System.Numerics;
using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>
/// Kernels that work on rows of n contiguous elements, one group per row (grid-stride over rows): softmax,
/// layer and RMS normalisation, cross-entropy and their backward passes. The row statistics are group
/// reductions (<see cref="GroupMath"/>); formulas are those of <see cref="IBackend"/>'s documentation.
/// </summary>
internal static class RowKernels
{
    /// <summary>y = softmax(x) or log_softmax(x) of each row.</summary>
    public static void Softmax<T>(ArrayView<T> x, long xOff, ArrayView<T> y, long yOff, long rows, long n, int log)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shared = SharedMemory.Allocate<T>(GroupMath.MaxGroupSize);
        int t = Group.IdxX;
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long xb = xOff + row * n, yb = yOff + row * n;
            T m = T.NegativeInfinity;
            for (long k = t; k < n; k += Group.DimX) m = DeviceMath.Maximum(m, x[xb + k]);
            m = GroupMath.Max(m, shared);
            T s = T.Zero;
            for (long k = t; k < n; k += Group.DimX) s += T.Exp(x[xb + k] - m);
            s = GroupMath.Sum(s, shared);
            if (log != 0)
            {
                T ls = m + T.Log(s);
                for (long k = t; k < n; k += Group.DimX) y[yb + k] = x[xb + k] - ls;
            }
            else
            {
                T inv = T.One / s;
                for (long k = t; k < n; k += Group.DimX) y[yb + k] = T.Exp(x[xb + k] - m) * inv;
            }
        }
    }

    /// <summary>dx = y ∘ (dy - Σ dy·y) for softmax; dx = dy - exp(y) Σ dy for log-softmax.</summary>
    public static void SoftmaxBackward<T>(ArrayView<T> y, long yOff, ArrayView<T> dy, long dyOff, ArrayView<T> dx, long dxOff, long rows, long n, int log)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shared = SharedMemory.Allocate<T>(GroupMath.MaxGroupSize);
        int t = Group.IdxX;
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long yb = yOff + row * n, gb = dyOff + row * n, db = dxOff + row * n;
            T s = T.Zero;
            for (long k = t; k < n; k += Group.DimX) s += log != 0 ? dy[gb + k] : dy[gb + k] * y[yb + k];
            s = GroupMath.Sum(s, shared);
            for (long k = t; k < n; k += Group.DimX)
                dx[db + k] = log != 0 ? dy[gb + k] - T.Exp(y[yb + k]) * s : y[yb + k] * (dy[gb + k] - s);
        }
    }

    /// <summary>Layer norm (rms = 0) or RMS norm (rms = 1) of each row; writes mean (layer norm only) and rstd.
    /// Missing weight / bias are flagged 0.</summary>
    public static void Norm<T, TR>(ArrayView<T> x, ArrayView<T> w, int hasW, ArrayView<T> b, int hasB,
        ArrayView<T> y, ArrayView<T> mean, ArrayView<T> rstd, long rows, long n, T eps, int rms)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var shared = SharedMemory.Allocate<T>(GroupMath.MaxGroupSize);
        TR r = default;
        T count = r.From(n);
        int t = Group.IdxX;
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long xb = row * n, yb = row * n;
            T mu = T.Zero;
            if (rms == 0)
            {
                T s = T.Zero;
                for (long k = t; k < n; k += Group.DimX) s += x[xb + k];
                mu = GroupMath.Sum(s, shared) / count;
            }
            T q = T.Zero;
            for (long k = t; k < n; k += Group.DimX) { T d = x[xb + k] - mu; q += d * d; }
            T rs = T.One / T.Sqrt(GroupMath.Sum(q, shared) / count + eps);
            for (long k = t; k < n; k += Group.DimX)
            {
                T v = (x[xb + k] - mu) * rs;
                if (hasW != 0) v *= w[k];
                if (hasB != 0) v += b[k];
                y[yb + k] = v;
            }
            if (t == 0)
            {
                if (rms == 0) mean[row] = mu;
                rstd[row] = rs;
            }
        }
    }

    /// <summary>dx of layer norm (rms = 0) or RMS norm (rms = 1): with x̂ = (x - mean)·rstd and g = dy·w,
    /// dx = rstd (g - mean(g) - x̂ mean(g x̂)) (the mean(g) term only for layer norm).</summary>
    public static void NormBackward<T, TR>(ArrayView<T> x, ArrayView<T> w, int hasW, ArrayView<T> mean,
        ArrayView<T> rstd, ArrayView<T> dy, ArrayView<T> dx, long rows, long n, int rms)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var shared = SharedMemory.Allocate<T>(GroupMath.MaxGroupSize);
        TR r = default;
        T count = r.From(n);
        int t = Group.IdxX;
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long xb = row * n, gb = row * n;
            T mu = rms != 0 ? T.Zero : mean[row];
            T rs = rstd[row];
            T sg = T.Zero, sgx = T.Zero;
            for (long k = t; k < n; k += Group.DimX)
            {
                T g = hasW != 0 ? dy[gb + k] * w[k] : dy[gb + k];
                sg += g;
                sgx += g * (x[xb + k] - mu) * rs;
            }
            T meanG = rms != 0 ? T.Zero : GroupMath.Sum(sg, shared) / count;
            T meanGx = GroupMath.Sum(sgx, shared) / count;
            for (long k = t; k < n; k += Group.DimX)
            {
                T g = hasW != 0 ? dy[gb + k] * w[k] : dy[gb + k];
                T xh = (x[xb + k] - mu) * rs;
                dx[row * n + k] = rs * (g - meanG - xh * meanGx);
            }
        }
    }

    /// <summary>Column sums over rows for the norms' parameters: dweight[j] = Σ_rows dy x̂ and (when wanted)
    /// dbias[j] = Σ_rows dy, one thread per column, rows in order.</summary>
    public static void NormParamGrads<T>(ArrayView<T> x, ArrayView<T> mean, ArrayView<T> rstd,
        ArrayView<T> dy, ArrayView<T> dw, int wantW, ArrayView<T> db, int wantB, long rows, long n, int rms)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long j = Grid.GlobalIndex.X; j < n; j += step)
        {
            T sw = T.Zero, sb = T.Zero;
            for (long row = 0; row < rows; row++)
            {
                T g = dy[row * n + j];
                T mu = rms != 0 ? T.Zero : mean[row];
                sw += g * (x[row * n + j] - mu) * rstd[row];
                sb += g;
            }
            if (wantW != 0) dw[j] = sw;
            if (wantB != 0) db[j] = sb;
        }
    }

    /// <summary>Cross-entropy of each row of logits against its target, with label smoothing ε; ignored rows get loss 0.</summary>
    public static void CrossEntropy<T, TR>(ArrayView<T> x, long xOff, ArrayView<long> targets, long tOff, ArrayView<T> loss, long lossOff,
        ArrayView<T> lse, long lseOff, long rows, long n, long ignoreIndex, T smoothing)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var shared = SharedMemory.Allocate<T>(GroupMath.MaxGroupSize);
        TR r = default;
        int t = Group.IdxX;
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            long xb = xOff + row * n;
            T m = T.NegativeInfinity, total = T.Zero;
            for (long k = t; k < n; k += Group.DimX) { m = DeviceMath.Maximum(m, x[xb + k]); total += x[xb + k]; }
            m = GroupMath.Max(m, shared);
            total = GroupMath.Sum(total, shared);
            T s = T.Zero;
            for (long k = t; k < n; k += Group.DimX) s += T.Exp(x[xb + k] - m);
            T ls = m + T.Log(GroupMath.Sum(s, shared));
            if (t == 0)
            {
                lse[lseOff + row] = ls;
                long target = targets[tOff + row];
                loss[lossOff + row] = target == ignoreIndex ? T.Zero
                    : ls - (T.One - smoothing) * x[xb + target] - smoothing / r.From(n) * total;
            }
        }
    }

    /// <summary>dlogits = dloss (softmax - (1 - ε) onehot - ε / C), zero on ignored rows; one work item per element.</summary>
    public static void CrossEntropyBackward<T, TR>(ArrayView<T> x, long xOff, ArrayView<long> targets, long tOff, ArrayView<T> lse, long lseOff,
        ArrayView<T> dloss, long dlOff, ArrayView<T> dx, long dxOff, long rows, long n, long ignoreIndex, T smoothing)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        TR r = default;
        long step = (long)Grid.DimX * Group.DimX;
        for (long e = Grid.GlobalIndex.X; e < rows * n; e += step)
        {
            long row = e / n, c = e % n;
            long target = targets[tOff + row];
            if (target == ignoreIndex) { dx[dxOff + e] = T.Zero; continue; }
            T p = T.Exp(x[xOff + e] - lse[lseOff + row]);
            T want = (c == target ? T.One - smoothing : T.Zero) + smoothing / r.From(n);
            dx[dxOff + e] = dloss[dlOff + row] * (p - want);
        }
    }
}
