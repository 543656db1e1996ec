using System.Numerics;
using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>Sizes and mask layout of one attention call, passed by value to the kernels.</summary>
internal struct AttentionShape
{
    public int B, H, Hkv, T, S, D, Dv;
    public long QOff, KOff, VOff, OOff, LseOff, GOff;
    public int HasMask, Causal;
    public long MaskOff, MaskB, MaskH, MaskT;

    /// <summary>Rows per streamed shared-memory tile (<see cref="FlashAttentionKernels"/> only).</summary>
    public int Tile;
}

/// <summary>
/// Untiled scaled dot-product attention with an online softmax, one thread per query row for the forward and dq,
/// one thread per key row for dk and dv (looping over every query of its head group), every operand read from
/// global memory, so nothing of size T·S is stored and every sum runs in a fixed order. Used for heads wider than
/// <see cref="FlashAttentionKernels.MaxHead"/>, which the tiled kernels do not hold in registers; <see cref="Delta{T}"/>
/// serves both.
/// </summary>
internal static class AttentionKernels
{
    /// <summary>score(i, j) + mask for query row (b, h, i) and key j; -∞ when masked out.</summary>
    private static T Score<T>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> mask, AttentionShape s, int b, int h, int i, int j, T scale)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (s.Causal != 0 && j > i + (s.S - s.T)) return T.NegativeInfinity;
        int hk = h / (s.H / s.Hkv);
        long qb = s.QOff + (((long)b * s.H + h) * s.T + i) * s.D;
        long kb = s.KOff + (((long)b * s.Hkv + hk) * s.S + j) * s.D;
        T dot = T.Zero;
        for (int c = 0; c < s.D; c++) dot += q[qb + c] * k[kb + c];
        T v = dot * scale;
        if (s.HasMask != 0) v += mask[s.MaskOff + b * s.MaskB + h * s.MaskH + i * s.MaskT + j];
        return v;
    }

    /// <summary>out and lse for each query row (b, h, i).</summary>
    public static void Forward<T>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> mask, ArrayView<T> o, ArrayView<T> lse, AttentionShape s, T scale)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long rows = (long)s.B * s.H * s.T;
        long step = (long)Grid.DimX * Group.DimX;
        for (long r = Grid.GlobalIndex.X; r < rows; r += step)
        {
            int i = (int)(r % s.T), h = (int)(r / s.T % s.H), b = (int)(r / ((long)s.T * s.H));
            int hk = h / (s.H / s.Hkv);
            long ob = s.OOff + r * s.Dv;
            for (int c = 0; c < s.Dv; c++) o[ob + c] = T.Zero;
            T m = T.NegativeInfinity, l = T.Zero;
            for (int j = 0; j < s.S; j++)
            {
                T sc = Score(q, k, mask, s, b, h, i, j, scale);
                if (sc == T.NegativeInfinity) continue;
                // online softmax: rescale what was summed so far when the running maximum grows
                T mNew = sc > m ? sc : m;
                T corr = T.Exp(m - mNew), p = T.Exp(sc - mNew);
                l = l * corr + p;
                long vb = s.VOff + (((long)b * s.Hkv + hk) * s.S + j) * s.Dv;
                for (int c = 0; c < s.Dv; c++) o[ob + c] = o[ob + c] * corr + p * v[vb + c];
                m = mNew;
            }
            for (int c = 0; c < s.Dv; c++) o[ob + c] = o[ob + c] / l;
            lse[s.LseOff + r] = m + T.Log(l);
        }
    }

    /// <summary>Δ_i = Σ_c dOut_ic out_ic per query row, into delta (contiguous, B·H·T).</summary>
    public static void Delta<T>(ArrayView<T> o, ArrayView<T> g, ArrayView<T> delta, AttentionShape s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long rows = (long)s.B * s.H * s.T;
        long step = (long)Grid.DimX * Group.DimX;
        for (long r = Grid.GlobalIndex.X; r < rows; r += step)
        {
            T acc = T.Zero;
            for (int c = 0; c < s.Dv; c++) acc += g[s.GOff + r * s.Dv + c] * o[s.OOff + r * s.Dv + c];
            delta[r] = acc;
        }
    }

    /// <summary>dS_ij = P_ij (dOut_i · v_j - Δ_i), P_ij = exp(score_ij - lse_i).</summary>
    private static T DScore<T>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> mask, ArrayView<T> g, ArrayView<T> lse, ArrayView<T> delta,
        AttentionShape s, int b, int h, int i, int j, T scale, out T p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        p = T.Zero;
        T sc = Score(q, k, mask, s, b, h, i, j, scale);
        if (sc == T.NegativeInfinity) return T.Zero;
        long r = ((long)b * s.H + h) * s.T + i;
        p = T.Exp(sc - lse[s.LseOff + r]);
        int hk = h / (s.H / s.Hkv);
        long vb = s.VOff + (((long)b * s.Hkv + hk) * s.S + j) * s.Dv;
        T dp = T.Zero;
        for (int c = 0; c < s.Dv; c++) dp += g[s.GOff + r * s.Dv + c] * v[vb + c];
        return p * (dp - delta[r]);
    }

    /// <summary>dq_i = scale Σ_j dS_ij k_j, one thread per query row.</summary>
    public static void QueryGrad<T>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> mask, ArrayView<T> g, ArrayView<T> lse, ArrayView<T> delta,
        ArrayView<T> dq, long dqOff, AttentionShape s, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long rows = (long)s.B * s.H * s.T;
        long step = (long)Grid.DimX * Group.DimX;
        for (long r = Grid.GlobalIndex.X; r < rows; r += step)
        {
            int i = (int)(r % s.T), h = (int)(r / s.T % s.H), b = (int)(r / ((long)s.T * s.H));
            int hk = h / (s.H / s.Hkv);
            long qb = dqOff + r * s.D;
            for (int c = 0; c < s.D; c++) dq[qb + c] = T.Zero;
            for (int j = 0; j < s.S; j++)
            {
                T ds = DScore(q, k, v, mask, g, lse, delta, s, b, h, i, j, scale, out _);
                if (ds == T.Zero) continue;
                long kb = s.KOff + (((long)b * s.Hkv + hk) * s.S + j) * s.D;
                for (int c = 0; c < s.D; c++) dq[qb + c] += scale * ds * k[kb + c];
            }
        }
    }

    /// <summary>dk_j = scale Σ dS_ij q_i and dv_j = Σ P_ij dOut_i over the query heads of the group and all i,
    /// one thread per key row (b, hkv, j).</summary>
    public static void KeyValueGrad<T>(ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> mask, ArrayView<T> g, ArrayView<T> lse, ArrayView<T> delta,
        ArrayView<T> dk, int wantK, ArrayView<T> dv, int wantV, AttentionShape s, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long rows = (long)s.B * s.Hkv * s.S;
        long step = (long)Grid.DimX * Group.DimX;
        int groupSize = s.H / s.Hkv;
        for (long r = Grid.GlobalIndex.X; r < rows; r += step)
        {
            int j = (int)(r % s.S), hk = (int)(r / s.S % s.Hkv), b = (int)(r / ((long)s.S * s.Hkv));
            if (wantK != 0) for (int c = 0; c < s.D; c++) dk[r * s.D + c] = T.Zero;
            if (wantV != 0) for (int c = 0; c < s.Dv; c++) dv[r * s.Dv + c] = T.Zero;
            for (int h = hk * groupSize; h < (hk + 1) * groupSize; h++)
                for (int i = 0; i < s.T; i++)
                {
                    T ds = DScore(q, k, v, mask, g, lse, delta, s, b, h, i, j, scale, out T p);
                    if (p == T.Zero) continue;
                    long qr = ((long)b * s.H + h) * s.T + i;
                    if (wantK != 0)
                        for (int c = 0; c < s.D; c++) dk[r * s.D + c] += scale * ds * q[s.QOff + qr * s.D + c];
                    if (wantV != 0)
                        for (int c = 0; c < s.Dv; c++) dv[r * s.Dv + c] += p * g[s.GOff + qr * s.Dv + c];
                }
        }
    }
}
