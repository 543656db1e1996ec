namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    public void AdamWStep(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1,
        double beta2, double eps, double weightDecay, long step, bool maximize)
    {
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        using var gi = ElementOffsets(grad).GetEnumerator();
        using var mi = ElementOffsets(expAvg).GetEnumerator();
        using var vi = ElementOffsets(expAvgSq).GetEnumerator();
        foreach (long pi in ElementOffsets(param))
        {
            gi.MoveNext(); mi.MoveNext(); vi.MoveNext();
            double g = ReadAsDouble(grad, gi.Current);
            if (maximize) g = -g;
            double p = ReadAsDouble(param, pi) * (1 - lr * weightDecay);
            double m = beta1 * ReadAsDouble(expAvg, mi.Current) + (1 - beta1) * g;
            double v = beta2 * ReadAsDouble(expAvgSq, vi.Current) + (1 - beta2) * g * g;
            double mHat = m / biasCorrection1;
            double vHat = v / biasCorrection2;
            p -= lr * mHat / (Math.Sqrt(vHat) + eps);
            WriteDouble(param, pi, p);
            WriteDouble(expAvg, mi.Current, m);
            WriteDouble(expAvgSq, vi.Current, v);
        }
    }

    public void SgdStep(Tensor param, Tensor grad, Tensor? momentumBuffer, double lr, double momentum,
        double dampening, bool nesterov, double weightDecay, bool maximize, bool initializeBuffer)
    {
        using var gi = ElementOffsets(grad).GetEnumerator();
        using var bi = momentumBuffer is null ? null : ElementOffsets(momentumBuffer).GetEnumerator();
        foreach (long pi in ElementOffsets(param))
        {
            gi.MoveNext();
            double p = ReadAsDouble(param, pi);
            double g = ReadAsDouble(grad, gi.Current);
            if (maximize) g = -g;
            g += weightDecay * p;
            if (bi is not null)
            {
                bi.MoveNext();
                double b = initializeBuffer ? g : momentum * ReadAsDouble(momentumBuffer!, bi.Current) + (1 - dampening) * g;
                WriteDouble(momentumBuffer!, bi.Current, b);
                g = nesterov ? g + momentum * b : b;
            }
            WriteDouble(param, pi, p - lr * g);
        }
    }
}
