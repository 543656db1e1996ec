namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    public void CrossEntropy(Tensor logits, Tensor targets, long ignoreIndex, double labelSmoothing, Tensor loss, Tensor lse)
    {
        var (rows, c) = RowsOf(logits);
        for (long r = 0; r < rows; r++)
        {
            long xo = logits.Offset + r * c;
            double max = double.NegativeInfinity, total = 0;
            for (int j = 0; j < c; j++)
            {
                double v = ReadAsDouble(logits, xo + j);
                max = Math.Max(max, v);
                total += v;
            }
            double sum = 0;
            for (int j = 0; j < c; j++) sum += Math.Exp(ReadAsDouble(logits, xo + j) - max);
            double logSumExp = max + Math.Log(sum);
            WriteDouble(lse, lse.Offset + r, logSumExp);

            long t = CheckedTarget(targets, r, c, ignoreIndex);
            double l = 0;
            if (t != ignoreIndex)
            {
                // -log p_t weighted 1 - ε, plus the mean of -log p_c over all classes weighted ε
                double xt = ReadAsDouble(logits, xo + t);
                l = logSumExp - (1 - labelSmoothing) * xt - labelSmoothing / c * total;
            }
            WriteDouble(loss, loss.Offset + r, l);
        }
    }

    public void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor dloss, long ignoreIndex,
        double labelSmoothing, Tensor dlogits)
    {
        var (rows, c) = RowsOf(logits);
        for (long r = 0; r < rows; r++)
        {
            long t = CheckedTarget(targets, r, c, ignoreIndex);
            double g = t == ignoreIndex ? 0 : ReadAsDouble(dloss, dloss.Offset + r);
            double logSumExp = ReadAsDouble(lse, lse.Offset + r);
            for (int j = 0; j < c; j++)
            {
                double p = Math.Exp(ReadAsDouble(logits, logits.Offset + r * c + j) - logSumExp);
                double target = (j == t ? 1 - labelSmoothing : 0) + labelSmoothing / c;
                WriteDouble(dlogits, dlogits.Offset + r * c + j, t == ignoreIndex ? 0 : g * (p - target));
            }
        }
    }

    /// <summary>targets[r], after checking it is a class index or the ignore index.</summary>
    private static long CheckedTarget(Tensor targets, long r, int classes, long ignoreIndex)
    {
        long t = (long)ReadAsDouble(targets, targets.Offset + r);
        if (t != ignoreIndex && (t < 0 || t >= classes))
            throw new ArgumentOutOfRangeException(nameof(targets), $"CrossEntropy: target {t} of row {r} is outside [0, {classes}) and is not the ignore index {ignoreIndex}");
        return t;
    }
}
