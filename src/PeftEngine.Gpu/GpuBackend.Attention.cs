using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Gpu;

public sealed partial class GpuBackend
{
    private static AttentionShape ShapeOf(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, Tensor output)
    {
        var s = new AttentionShape
        {
            B = q.Shape[0], H = q.Shape[1], T = q.Shape[2], D = q.Shape[3], Hkv = k.Shape[1], S = k.Shape[2], Dv = v.Shape[3],
            QOff = q.Offset, KOff = k.Offset, VOff = v.Offset, OOff = output.Offset, Causal = causal ? 1 : 0,
        };
        if (mask is not null)
        {
            var ms = mask.Strides;
            s.HasMask = 1;
            s.MaskOff = mask.Offset;
            s.MaskB = ms[0];
            s.MaskH = ms[1];
            s.MaskT = ms[2];
        }
        return s;
    }

    public void AttentionForward(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale, Tensor output, Tensor lse)
    {
        RequireCompute(q, "AttentionForward");
        if (output.Numel == 0) return;
        if (q.DType == DType.F32) AttentionForwardT<float, F32>(q, k, v, mask, causal, scale, output, lse);
        else AttentionForwardT<double, F64>(q, k, v, mask, causal, scale, output, lse);
    }

    private void AttentionForwardT<T, TR>(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale, Tensor output, Tensor lse)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var s = ShapeOf(q, k, v, mask, causal, output);
        s.LseOff = lse.Offset;
        var kern = Kernel("attentionForward", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
            AttentionShape, T>(AttentionKernels.Forward));
        TR r = default;
        kern(Linear((long)s.B * s.H * s.T), View<T>(q), View<T>(k), View<T>(v), View<T>(mask ?? q), View<T>(output), View<T>(lse), s, r.From(scale));
    }

    public void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale, Tensor output, Tensor dOutput, Tensor lse,
        Tensor? dq, Tensor? dk, Tensor? dv)
    {
        RequireCompute(q, "AttentionBackward");
        if (dq is null && dk is null && dv is null) return;
        if (q.DType == DType.F32) AttentionBackwardT<float, F32>(q, k, v, mask, causal, scale, output, dOutput, lse, dq, dk, dv);
        else AttentionBackwardT<double, F64>(q, k, v, mask, causal, scale, output, dOutput, lse, dq, dk, dv);
    }

    private void AttentionBackwardT<T, TR>(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale, Tensor output, Tensor g, Tensor lse,
        Tensor? dq, Tensor? dk, Tensor? dv) where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var s = ShapeOf(q, k, v, mask, causal, output);
        s.LseOff = lse.Offset;
        s.GOff = g.Offset;
        TR r = default;
        T sc = r.From(scale);
        long rows = (long)s.B * s.H * s.T;
        using var delta = Tensor.Empty(new Shape(checked((int)Math.Max(1, rows))), q.DType, Device);
        var kd = Kernel("attentionDelta", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, AttentionShape>(AttentionKernels.Delta));
        kd(Linear(rows), View<T>(output), View<T>(g), View<T>(delta), s);
        var maskView = View<T>(mask ?? q);
        if (dq is not null)
        {
            var kq = Kernel("attentionQueryGrad", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, long, AttentionShape, T>(AttentionKernels.QueryGrad));
            kq(Linear(rows), View<T>(q), View<T>(k), View<T>(v), maskView, View<T>(g), View<T>(lse), View<T>(delta), View<T>(dq), dq.Offset, s, sc);
        }
        if (dk is not null || dv is not null)
        {
            var kk = Kernel("attentionKeyValueGrad", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, int, ArrayView<T>, int, AttentionShape, T>(AttentionKernels.KeyValueGrad));
            kk(Linear((long)s.B * s.Hkv * s.S), View<T>(q), View<T>(k), View<T>(v), maskView, View<T>(g), View<T>(lse), View<T>(delta),
                Data<T>(dk, q), dk is null ? 0 : 1, Data<T>(dv, q), dv is null ? 0 : 1, s, sc);
        }
    }
}
