namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    public void AttentionForward(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale, Tensor output, Tensor lse)
    {
        int b = q.Shape[0], h = q.Shape[1], t = q.Shape[2], s = k.Shape[2], dv = v.Shape[3];
        int group = h / k.Shape[1];
        var p = new double[s];
        for (int bi = 0; bi < b; bi++)
            for (int hi = 0; hi < h; hi++)
                for (int i = 0; i < t; i++)
                {
                    // One row of probabilities at a time: p_j = exp(score_j - lse).
                    double rowLse = ProbabilityRow(q, k, mask, causal, scale, bi, hi, hi / group, i, p);
                    WriteDouble(lse, At(lse, bi, hi, i), rowLse);
                    for (int c = 0; c < dv; c++)
                    {
                        double acc = 0;
                        for (int j = 0; j < s; j++) acc += p[j] * ReadAsDouble(v, At(v, bi, hi / group, j, c));
                        WriteDouble(output, At(output, bi, hi, i, c), acc);
                    }
                }
    }

    public void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale,
        Tensor output, Tensor dOutput, Tensor lse, Tensor? dq, Tensor? dk, Tensor? dv)
    {
        int b = q.Shape[0], h = q.Shape[1], t = q.Shape[2], d = q.Shape[3];
        int hkv = k.Shape[1], s = k.Shape[2], dvSize = v.Shape[3];
        int group = h / hkv;
        var gq = new double[(long)b * h * t * d];
        var gk = new double[(long)b * hkv * s * d];
        var gv = new double[(long)b * hkv * s * dvSize];
        var p = new double[s];
        for (int bi = 0; bi < b; bi++)
            for (int hi = 0; hi < h; hi++)
                for (int i = 0; i < t; i++)
                {
                    int kh = hi / group;
                    ProbabilityRow(q, k, mask, causal, scale, bi, hi, kh, i, p);
                    // Δ_i = Σ_c dO_ic O_ic
                    double delta = 0;
                    for (int c = 0; c < dvSize; c++)
                        delta += ReadAsDouble(dOutput, At(dOutput, bi, hi, i, c)) * ReadAsDouble(output, At(output, bi, hi, i, c));
                    long qRow = (((long)bi * h + hi) * t + i) * d;
                    for (int j = 0; j < s; j++)
                    {
                        if (p[j] == 0) continue;
                        long kRow = (((long)bi * hkv + kh) * s + j) * d, vRow = (((long)bi * hkv + kh) * s + j) * dvSize;
                        // dP_ij = dO_i · v_j; dS_ij = P_ij (dP_ij - Δ_i)
                        double dp = 0;
                        for (int c = 0; c < dvSize; c++)
                        {
                            double g = ReadAsDouble(dOutput, At(dOutput, bi, hi, i, c));
                            dp += g * ReadAsDouble(v, At(v, bi, kh, j, c));
                            gv[vRow + c] += p[j] * g;                                  // dv_j += P_ij dO_i
                        }
                        double ds = p[j] * (dp - delta) * scale;
                        for (int c = 0; c < d; c++)
                        {
                            gq[qRow + c] += ds * ReadAsDouble(k, At(k, bi, kh, j, c));   // dq_i += scale dS_ij k_j
                            gk[kRow + c] += ds * ReadAsDouble(q, At(q, bi, hi, i, c));   // dk_j += scale dS_ij q_i
                        }
                    }
                }
        if (dq is not null) WriteAll(dq, gq);
        if (dk is not null) WriteAll(dk, gk);
        if (dv is not null) WriteAll(dv, gv);
    }

    /// <summary>Fills p with the probabilities of query row i of head hi (key/value head kh) and returns the row's
    /// logsumexp. Forbidden keys get probability 0.</summary>
    private static double ProbabilityRow(Tensor q, Tensor k, Tensor? mask, bool causal, double scale,
        int bi, int hi, int kh, int i, double[] p)
    {
        int t = q.Shape[2], d = q.Shape[3], s = k.Shape[2];
        double max = double.NegativeInfinity;
        for (int j = 0; j < s; j++)
        {
            if (causal && j > i + (s - t)) { p[j] = double.NegativeInfinity; continue; }
            double dot = 0;
            for (int c = 0; c < d; c++) dot += ReadAsDouble(q, At(q, bi, hi, i, c)) * ReadAsDouble(k, At(k, bi, kh, j, c));
            p[j] = dot * scale + (mask is null ? 0 : ReadAsDouble(mask, At(mask, bi, hi, i, j)));
            max = Math.Max(max, p[j]);
        }
        double sum = 0;
        for (int j = 0; j < s; j++) sum += Math.Exp(p[j] - max);
        double lse = max + Math.Log(sum);
        for (int j = 0; j < s; j++) p[j] = Math.Exp(p[j] - lse);
        return lse;
    }

    /// <summary>The storage index of element (i0, i1, i2[, i3]) of a 3-D or 4-D tensor with any strides.</summary>
    private static long At(Tensor x, int i0, int i1, int i2, int i3 = 0)
    {
        var st = x.Strides;
        long o = x.Offset + i0 * st[0] + i1 * st[1] + i2 * st[2];
        return x.Rank == 4 ? o + i3 * st[3] : o;
    }
}
