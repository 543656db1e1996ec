using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Gpu;

public sealed partial class GpuBackend
{
    private static (long Rows, long N) RowsOf(Tensor x)
    {
        long n = x.Rank == 0 ? 1 : x.Shape[-1];
        return (n == 0 ? 0 : x.Numel / n, n);
    }

    public void Softmax(Tensor x, Tensor y, bool log)
    {
        RequireCompute(x, "Softmax");
        var (rows, n) = RowsOf(x);
        if (rows == 0) return;
        if (x.DType == DType.F32) SoftmaxT<float>(x, y, log, rows, n);
        else SoftmaxT<double>(x, y, log, rows, n);
    }

    private void SoftmaxT<T>(Tensor x, Tensor y, bool log, long rows, long n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var k = Kernel("softmax", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, long, ArrayView<T>, long, long, long, int>(RowKernels.Softmax));
        k(PerRow(rows), View<T>(x), x.Offset, View<T>(y), y.Offset, rows, n, log ? 1 : 0);
    }

    public void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, bool log)
    {
        RequireCompute(y, "SoftmaxBackward");
        var (rows, n) = RowsOf(y);
        if (rows == 0) return;
        if (y.DType == DType.F32) SoftmaxBackwardT<float>(y, dy, dx, log, rows, n);
        else SoftmaxBackwardT<double>(y, dy, dx, log, rows, n);
    }

    private void SoftmaxBackwardT<T>(Tensor y, Tensor dy, Tensor dx, bool log, long rows, long n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var k = Kernel("softmaxBackward", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, long, ArrayView<T>, long, ArrayView<T>, long, long, long, int>(RowKernels.SoftmaxBackward));
        k(PerRow(rows), View<T>(y), y.Offset, View<T>(dy), dy.Offset, View<T>(dx), dx.Offset, rows, n, log ? 1 : 0);
    }

    public void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor y, Tensor mean, Tensor rstd) =>
        Norm(x, weight, bias, eps, y, mean, rstd, rms: false);

    public void RmsNorm(Tensor x, Tensor? weight, double eps, Tensor y, Tensor rstd) =>
        Norm(x, weight, null, eps, y, rstd, rstd, rms: true);

    private void Norm(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor y, Tensor mean, Tensor rstd, bool rms)
    {
        RequireCompute(x, rms ? "RmsNorm" : "LayerNorm");
        var (rows, n) = RowsOf(x);
        if (rows == 0) return;
        if (x.DType == DType.F32) NormT<float, F32>(x, weight, bias, eps, y, mean, rstd, rms, rows, n);
        else NormT<double, F64>(x, weight, bias, eps, y, mean, rstd, rms, rows, n);
    }

    private void NormT<T, TR>(Tensor x, Tensor? w, Tensor? b, double eps, Tensor y, Tensor mean, Tensor rstd, bool rms, long rows, long n)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var k = Kernel("norm", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, int, ArrayView<T>, int,
            ArrayView<T>, ArrayView<T>, ArrayView<T>, long, long, T, int>(RowKernels.Norm<T, TR>));
        TR r = default;
        k(PerRow(rows), Data<T>(x), Data<T>(w, x), w is null ? 0 : 1, Data<T>(b, x), b is null ? 0 : 1,
            Data<T>(y), Data<T>(mean), Data<T>(rstd), rows, n, r.From(eps), rms ? 1 : 0);
    }

    public void LayerNormBackward(Tensor x, Tensor? weight, Tensor mean, Tensor rstd, Tensor dy, Tensor? dx, Tensor? dweight, Tensor? dbias) =>
        NormBackward(x, weight, mean, rstd, dy, dx, dweight, dbias, rms: false);

    public void RmsNormBackward(Tensor x, Tensor? weight, Tensor rstd, Tensor dy, Tensor? dx, Tensor? dweight) =>
        NormBackward(x, weight, rstd, rstd, dy, dx, dweight, null, rms: true);

    private void NormBackward(Tensor x, Tensor? weight, Tensor mean, Tensor rstd, Tensor dy, Tensor? dx, Tensor? dweight, Tensor? dbias, bool rms)
    {
        RequireCompute(x, rms ? "RmsNormBackward" : "LayerNormBackward");
        var (rows, n) = RowsOf(x);
        if (x.DType == DType.F32) NormBackwardT<float, F32>(x, weight, mean, rstd, dy, dx, dweight, dbias, rms, rows, n);
        else NormBackwardT<double, F64>(x, weight, mean, rstd, dy, dx, dweight, dbias, rms, rows, n);
    }

    private void NormBackwardT<T, TR>(Tensor x, Tensor? w, Tensor mean, Tensor rstd, Tensor dy, Tensor? dx, Tensor? dw, Tensor? db, bool rms, long rows, long n)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        if (dx is not null && rows > 0)
        {
            var k = Kernel("normBackward", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, int, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, ArrayView<T>, long, long, int>(RowKernels.NormBackward<T, TR>));
            k(PerRow(rows), Data<T>(x), Data<T>(w, x), w is null ? 0 : 1, Data<T>(mean), Data<T>(rstd), Data<T>(dy), Data<T>(dx), rows, n, rms ? 1 : 0);
        }
        if (dw is not null || db is not null)
        {
            var k = Kernel("normParamGrads", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, int, ArrayView<T>, int, long, long, int>(RowKernels.NormParamGrads));
            k(Linear(n), Data<T>(x), Data<T>(mean), Data<T>(rstd), Data<T>(dy),
                Data<T>(dw, x), dw is null ? 0 : 1, Data<T>(db, x), db is null ? 0 : 1, rows, n, rms ? 1 : 0);
        }
    }

    public void CrossEntropy(Tensor logits, Tensor targets, long ignoreIndex, double labelSmoothing, Tensor loss, Tensor lse)
    {
        RequireCompute(logits, "CrossEntropy");
        var (rows, n) = RowsOf(logits);
        if (rows == 0) return;
        CheckTargets(targets, n, ignoreIndex);
        if (logits.DType == DType.F32) CrossEntropyT<float, F32>(logits, targets, ignoreIndex, labelSmoothing, loss, lse, rows, n);
        else CrossEntropyT<double, F64>(logits, targets, ignoreIndex, labelSmoothing, loss, lse, rows, n);
    }

    private void CrossEntropyT<T, TR>(Tensor x, Tensor targets, long ignoreIndex, double eps, Tensor loss, Tensor lse, long rows, long n)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var k = Kernel("crossEntropy", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, long, ArrayView<long>, long, ArrayView<T>, long,
            ArrayView<T>, long, long, long, long, T>(RowKernels.CrossEntropy<T, TR>));
        TR r = default;
        k(PerRow(rows), View<T>(x), x.Offset, View<long>(targets), targets.Offset, View<T>(loss), loss.Offset, View<T>(lse), lse.Offset, rows, n, ignoreIndex, r.From(eps));
    }

    public void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor dloss, long ignoreIndex, double labelSmoothing, Tensor dlogits)
    {
        RequireCompute(logits, "CrossEntropyBackward");
        var (rows, n) = RowsOf(logits);
        if (rows == 0) return;
        CheckTargets(targets, n, ignoreIndex);
        if (logits.DType == DType.F32) CrossEntropyBackwardT<float, F32>(logits, targets, lse, dloss, ignoreIndex, labelSmoothing, dlogits, rows, n);
        else CrossEntropyBackwardT<double, F64>(logits, targets, lse, dloss, ignoreIndex, labelSmoothing, dlogits, rows, n);
    }

    private void CrossEntropyBackwardT<T, TR>(Tensor x, Tensor targets, Tensor lse, Tensor dloss, long ignoreIndex, double eps, Tensor dx, long rows, long n)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var k = Kernel("crossEntropyBackward", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, long, ArrayView<long>, long, ArrayView<T>, long,
            ArrayView<T>, long, ArrayView<T>, long, long, long, long, T>(RowKernels.CrossEntropyBackward<T, TR>));
        TR r = default;
        k(Linear(rows * n), View<T>(x), x.Offset, View<long>(targets), targets.Offset, View<T>(lse), lse.Offset, View<T>(dloss), dloss.Offset,
            View<T>(dx), dx.Offset, rows, n, ignoreIndex, r.From(eps));
    }

    /// <summary>Reads the targets back (a few bytes per row) to raise the out-of-range error the contract asks for.</summary>
    private void CheckTargets(Tensor targets, long classes, long ignoreIndex)
    {
        var t = ReadLongs(targets);
        for (int r = 0; r < t.Length; r++)
            if (t[r] != ignoreIndex && (t[r] < 0 || t[r] >= classes))
                throw new ArgumentOutOfRangeException(nameof(targets), $"CrossEntropy: target {t[r]} of row {r} is outside [0, {classes}) and is not the ignore index {ignoreIndex}");
    }

    /// <summary>The values of a contiguous I64 tensor on this device, copied to the host.</summary>
    internal long[] ReadLongs(Tensor t)
    {
        RequireContiguous(t, "index");
        var values = new long[t.Numel];
        CopyToHost(t.Storage, t.Offset * sizeof(long), System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }
}
