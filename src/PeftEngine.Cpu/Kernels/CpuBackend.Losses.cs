using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void CrossEntropy(Tensor logits, Tensor targets, long ignoreIndex, double labelSmoothing, Tensor loss, Tensor lse)
    {
        switch (logits.DType)
        {
            case DType.F32: CrossEntropyRows<float>(logits, targets, ignoreIndex, labelSmoothing, loss, lse); break;
            case DType.F64: CrossEntropyRows<double>(logits, targets, ignoreIndex, labelSmoothing, loss, lse); break;
            default: throw Unsupported("CrossEntropy", logits.DType);
        }
    }

    public void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor dloss, long ignoreIndex,
        double labelSmoothing, Tensor dlogits)
    {
        switch (logits.DType)
        {
            case DType.F32: CrossEntropyBackwardRows<float>(logits, targets, lse, dloss, ignoreIndex, labelSmoothing, dlogits); break;
            case DType.F64: CrossEntropyBackwardRows<double>(logits, targets, lse, dloss, ignoreIndex, labelSmoothing, dlogits); break;
            default: throw Unsupported("CrossEntropyBackward", logits.DType);
        }
    }

    private static void CrossEntropyRows<T>(Tensor logits, Tensor targets, long ignoreIndex, double labelSmoothing, Tensor loss, Tensor lse)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (rows, c) = ReferenceBackend.RowsOf(logits);
        T* px = Ptr<T>(logits), pl = Ptr<T>(loss), pz = Ptr<T>(lse);
        long* pt = Ptr<long>(targets);
        CheckTargets(pt, rows, c, ignoreIndex);
        T onTarget = T.CreateTruncating(1 - labelSmoothing), uniform = T.CreateTruncating(labelSmoothing / c);
        CpuParallel.For(rows, c * 3L, (r0, r1) =>
        {
            var buffer = ArrayPool<T>.Shared.Rent(c);
            try
            {
                var e = buffer.AsSpan(0, c);
                for (long r = r0; r < r1; r++)
                {
                    var xr = new ReadOnlySpan<T>(px + r * c, c);
                    // lse = m + log Σ exp(x - m)
                    T max = TensorPrimitives.Max(xr);
                    TensorPrimitives.Subtract(xr, max, e);
                    TensorPrimitives.Exp(e, e);
                    T z = max + T.Log(TensorPrimitives.Sum<T>(e));
                    pz[r] = z;
                    long t = pt[r];
                    if (t == ignoreIndex) { pl[r] = T.Zero; continue; }
                    // loss = lse - (1 - ε) x_t - (ε / C) Σ_c x_c
                    T l = z - onTarget * xr[(int)t];
                    if (labelSmoothing != 0) l -= uniform * TensorPrimitives.Sum(xr);
                    pl[r] = l;
                }
            }
            finally { ArrayPool<T>.Shared.Return(buffer); }
        });
    }

    private static void CrossEntropyBackwardRows<T>(Tensor logits, Tensor targets, Tensor lse, Tensor dloss, long ignoreIndex,
        double labelSmoothing, Tensor dlogits) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (rows, c) = ReferenceBackend.RowsOf(logits);
        T* px = Ptr<T>(logits), pz = Ptr<T>(lse), pg = Ptr<T>(dloss), pd = Ptr<T>(dlogits);
        long* pt = Ptr<long>(targets);
        CheckTargets(pt, rows, c, ignoreIndex);
        T onTarget = T.CreateTruncating(1 - labelSmoothing), uniform = T.CreateTruncating(labelSmoothing / c);
        CpuParallel.For(rows, c * 3L, (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                var dr = new Span<T>(pd + r * c, c);
                long t = pt[r];
                if (t == ignoreIndex) { dr.Clear(); continue; }
                // dx = g (softmax(x) - (1 - ε) onehot(t) - ε / C), softmax(x) = exp(x - lse)
                T g = pg[r];
                TensorPrimitives.Subtract(new ReadOnlySpan<T>(px + r * c, c), pz[r], dr);
                TensorPrimitives.Exp(dr, dr);
                if (labelSmoothing != 0) TensorPrimitives.Add(dr, -uniform, dr);
                TensorPrimitives.Multiply(dr, g, dr);
                dr[(int)t] -= g * onTarget;
            }
        });
    }

    private static void CheckTargets(long* targets, long rows, int classes, long ignoreIndex)
    {
        for (long r = 0; r < rows; r++)
        {
            long t = targets[r];
            if (t != ignoreIndex && (t < 0 || t >= classes))
                throw new ArgumentOutOfRangeException(nameof(targets), $"CrossEntropy: target {t} of row {r} is outside [0, {classes}) and is not the ignore index {ignoreIndex}");
        }
    }
}
