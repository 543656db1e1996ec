using System.Numerics;

namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Element-operations one AdamW element costs, for the threading decision (about 15 flops and a
    /// square root, over four streams of memory).</summary>
    private const long AdamWWorkPerElement = 16;

    /// <summary>Element-operations one SGD element costs.</summary>
    private const long SgdWorkPerElement = 6;

    public void AdamWStep(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1,
        double beta2, double eps, double weightDecay, long step, bool maximize)
    {
        switch (param.DType)
        {
            case DType.F32: AdamW<float>(param, grad, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, step, maximize); break;
            case DType.F64: AdamW<double>(param, grad, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, step, maximize); break;
            default: throw Unsupported("AdamWStep", param.DType);
        }
    }

    public void SgdStep(Tensor param, Tensor grad, Tensor? momentumBuffer, double lr, double momentum,
        double dampening, bool nesterov, double weightDecay, bool maximize, bool initializeBuffer)
    {
        switch (param.DType)
        {
            case DType.F32: Sgd<float>(param, grad, momentumBuffer, lr, momentum, dampening, nesterov, weightDecay, maximize, initializeBuffer); break;
            case DType.F64: Sgd<double>(param, grad, momentumBuffer, lr, momentum, dampening, nesterov, weightDecay, maximize, initializeBuffer); break;
            default: throw Unsupported("SgdStep", param.DType);
        }
    }

    /// <summary>
    /// AdamW in one pass over the four arrays. The scalars that depend only on the step are computed once in
    /// double: decay = 1 - lr·wd, stepSize = lr / (1 - β1^t), 1 / sqrt(1 - β2^t). Per element, in T:
    /// p ← p·decay; m ← m + (1-β1)(g - m); v ← β2·v + (1-β2)·g²; p ← p - stepSize · m / (sqrt(v)/sqrt(bc2) + eps).
    /// The first moment is updated as a linear interpolation toward g, which is β1·m + (1-β1)·g rearranged.
    /// </summary>
    private static void AdamW<T>(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1,
        double beta2, double eps, double weightDecay, long step, bool maximize) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long n = param.Numel;
        T* pp = Ptr<T>(param), pg = Ptr<T>(grad), pm = Ptr<T>(expAvg), pv = Ptr<T>(expAvgSq);
        T decay = T.CreateTruncating(1 - lr * weightDecay);
        T oneMinusB1 = T.CreateTruncating(1 - beta1);
        T b2 = T.CreateTruncating(beta2), oneMinusB2 = T.CreateTruncating(1 - beta2);
        T stepSize = T.CreateTruncating(lr / (1 - Math.Pow(beta1, step)));
        T invBc2Sqrt = T.CreateTruncating(1 / Math.Sqrt(1 - Math.Pow(beta2, step)));
        T epsT = T.CreateTruncating(eps);
        T sign = maximize ? -T.One : T.One;
        CpuParallel.For(n, AdamWWorkPerElement, (start, end) =>
        {
            long i = start;
            int w = Vector<T>.Count;
            var vDecay = new Vector<T>(decay);
            var vOneMinusB1 = new Vector<T>(oneMinusB1);
            var vB2 = new Vector<T>(b2);
            var vOneMinusB2 = new Vector<T>(oneMinusB2);
            var vStepSize = new Vector<T>(stepSize);
            var vInvBc2Sqrt = new Vector<T>(invBc2Sqrt);
            var vEps = new Vector<T>(epsT);
            var vSign = new Vector<T>(sign);
            for (; i <= end - w; i += w)
            {
                var g = Vector.Load(pg + i) * vSign;
                var m = Vector.Load(pm + i);
                var v = Vector.Load(pv + i);
                m += vOneMinusB1 * (g - m);
                v = vB2 * v + vOneMinusB2 * (g * g);
                var denom = Vector.SquareRoot(v) * vInvBc2Sqrt + vEps;
                var p = Vector.Load(pp + i) * vDecay - vStepSize * (m / denom);
                m.Store(pm + i);
                v.Store(pv + i);
                p.Store(pp + i);
            }
            for (; i < end; i++)
            {
                T g = pg[i] * sign;
                T m = pm[i] + oneMinusB1 * (g - pm[i]);
                T v = b2 * pv[i] + oneMinusB2 * (g * g);
                T denom = T.Sqrt(v) * invBc2Sqrt + epsT;
                pm[i] = m;
                pv[i] = v;
                pp[i] = pp[i] * decay - stepSize * (m / denom);
            }
        });
    }

    /// <summary>
    /// SGD in one pass: g ← ±grad + wd·p; with a momentum buffer b ← (first step ? g : μ·b + (1-τ)·g) and
    /// g ← (nesterov ? g + μ·b : b); then p ← p - lr·g.
    /// </summary>
    private static void Sgd<T>(Tensor param, Tensor grad, Tensor? momentumBuffer, double lr, double momentum,
        double dampening, bool nesterov, double weightDecay, bool maximize, bool initializeBuffer)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long n = param.Numel;
        T* pp = Ptr<T>(param), pg = Ptr<T>(grad);
        T* pb = momentumBuffer is null ? null : Ptr<T>(momentumBuffer);
        T lrT = T.CreateTruncating(lr), wd = T.CreateTruncating(weightDecay);
        T mu = T.CreateTruncating(momentum), oneMinusDamp = T.CreateTruncating(1 - dampening);
        T sign = maximize ? -T.One : T.One;
        CpuParallel.For(n, SgdWorkPerElement, (start, end) =>
        {
            long i = start;
            int w = Vector<T>.Count;
            var vLr = new Vector<T>(lrT);
            var vWd = new Vector<T>(wd);
            var vMu = new Vector<T>(mu);
            var vOneMinusDamp = new Vector<T>(oneMinusDamp);
            var vSign = new Vector<T>(sign);
            for (; i <= end - w; i += w)
            {
                var p = Vector.Load(pp + i);
                var g = Vector.Load(pg + i) * vSign + vWd * p;
                if (pb != null)
                {
                    var b = initializeBuffer ? g : vMu * Vector.Load(pb + i) + vOneMinusDamp * g;
                    b.Store(pb + i);
                    g = nesterov ? g + vMu * b : b;
                }
                (p - vLr * g).Store(pp + i);
            }
            for (; i < end; i++)
            {
                T p = pp[i];
                T g = pg[i] * sign + wd * p;
                if (pb != null)
                {
                    T b = initializeBuffer ? g : mu * pb[i] + oneMinusDamp * g;
                    pb[i] = b;
                    g = nesterov ? g + mu * b : b;
                }
                pp[i] = p - lrT * g;
            }
        });
    }
}
