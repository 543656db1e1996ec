using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Gpu;

public sealed partial class GpuBackend
{
    /// <summary>Rows (= threads) per group of the tiled attention kernels: 8 on the CPU accelerator (each thread
    /// is an OS thread there), 64 on a GPU.</summary>
    internal int AttentionRows => Accelerator.AcceleratorType == AcceleratorType.CPU ? 8 : 64;

    /// <summary>Whether a call with these head sizes runs the tiled kernels (heads up to
    /// <see cref="FlashAttentionKernels.MaxHead"/>) rather than the untiled ones.</summary>
    internal static bool AttentionIsTiled(int d, int dv) => d <= FlashAttentionKernels.MaxHead && dv <= FlashAttentionKernels.MaxHead;

    private AttentionShape ShapeOf(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, Tensor output)
    {
        var s = new AttentionShape
        {
            B = q.Shape[0], H = q.Shape[1], T = q.Shape[2], D = q.Shape[3], Hkv = k.Shape[1], S = k.Shape[2], Dv = v.Shape[3],
            QOff = q.Offset, KOff = k.Offset, VOff = v.Offset, OOff = output.Offset, Causal = causal ? 1 : 0,
        };
        // Streamed tile rows: as many as fit the shared buffers, at most the group's row count.
        s.Tile = Math.Min(Math.Min(AttentionRows, FlashAttentionKernels.MaxTileRows),
            FlashAttentionKernels.TileCapacity / Math.Max(1, Math.Max(s.D, s.Dv)));
        if (mask is not null)
        {
            var ms = mask.Strides;
            if (ms[3] != 1 && s.S > 1)
                throw new ArgumentException($"AttentionForward: the mask must have stride 1 along keys, got strides ({string.Join(", ", mask.StridesArray())})");
            s.HasMask = 1;
            s.MaskOff = mask.Offset;
            s.MaskB = ms[0];
            s.MaskH = ms[1];
            s.MaskT = ms[2];
        }
        return s;
    }

    /// <summary>A launch of the tiled kernels over <paramref name="work"/> row tiles, one group of
    /// <see cref="AttentionRows"/> threads per tile (grid-stride).</summary>
    private KernelConfig AttentionLaunch(long work) =>
        new((int)Math.Clamp(work, 1, Accelerator.AcceleratorType == AcceleratorType.CPU ? MaxGroups : MaxGroups * 4L), AttentionRows);

    private long QueryTileCount(AttentionShape s) => (long)s.B * s.H * ((s.T + AttentionRows - 1) / AttentionRows);

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
        TR r = default;
        var args = (View<T>(q), View<T>(k), View<T>(v), View<T>(mask ?? q), View<T>(output), View<T>(lse));
        if (AttentionIsTiled(s.D, s.Dv))
        {
            var kern = Kernel("flashAttentionForward", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, AttentionShape, T>(FlashAttentionKernels.Forward));
            kern(AttentionLaunch(QueryTileCount(s)), args.Item1, args.Item2, args.Item3, args.Item4, args.Item5, args.Item6, s, r.From(scale));
        }
        else
        {
            var kern = Kernel("attentionForward", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, AttentionShape, T>(AttentionKernels.Forward));
            kern(Linear((long)s.B * s.H * s.T), args.Item1, args.Item2, args.Item3, args.Item4, args.Item5, args.Item6, s, r.From(scale));
        }
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
        // Δ_i = Σ_c dOut_ic out_ic, one value per query row.
        using var delta = Tensor.Empty(new Shape(checked((int)Math.Max(1, rows))), q.DType, Device);
        var kd = Kernel("attentionDelta", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, AttentionShape>(AttentionKernels.Delta));
        kd(Linear(rows), View<T>(output), View<T>(g), View<T>(delta), s);
        bool tiled = AttentionIsTiled(s.D, s.Dv);
        var (vq, vk, vv, vm, vg, vl, vd) = (View<T>(q), View<T>(k), View<T>(v), View<T>(mask ?? q), View<T>(g), View<T>(lse), View<T>(delta));
        if (dq is not null && tiled)
        {
            var kq = Kernel("flashAttentionQueryGrad", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, ArrayView<T>, AttentionShape, T>(FlashAttentionKernels.QueryGrad));
            kq(AttentionLaunch(QueryTileCount(s)), vq, vk, vv, vm, vg, vl, vd, Data<T>(dq), s, sc);
        }
        else if (dq is not null)
        {
            var kq = Kernel("attentionQueryGrad", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, ArrayView<T>, long, AttentionShape, T>(AttentionKernels.QueryGrad));
            kq(Linear(rows), vq, vk, vv, vm, vg, vl, vd, View<T>(dq), dq.Offset, s, sc);
        }
        if (dk is null && dv is null) return;
        var (odk, odv, wantK, wantV) = (Data<T>(dk, q), Data<T>(dv, q), dk is null ? 0 : 1, dv is null ? 0 : 1);
        if (tiled)
        {
            var kk = Kernel("flashAttentionKeyValueGrad", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, ArrayView<T>, int, ArrayView<T>, int, AttentionShape, T>(FlashAttentionKernels.KeyValueGrad));
            long keyTiles = (long)s.B * s.Hkv * ((s.S + AttentionRows - 1) / AttentionRows);
            kk(AttentionLaunch(keyTiles), vq, vk, vv, vm, vg, vl, vd, odk, wantK, odv, wantV, s, sc);
        }
        else
        {
            var kk = Kernel("attentionKeyValueGrad", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
                ArrayView<T>, ArrayView<T>, ArrayView<T>, int, ArrayView<T>, int, AttentionShape, T>(AttentionKernels.KeyValueGrad));
            kk(Linear((long)s.B * s.Hkv * s.S), vq, vk, vv, vm, vg, vl, vd, odk, wantK, odv, wantV, s, sc);
        }
    }
}
