using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using PeftEngine.Gpu.Kernels;

namespace PeftEngine.Gpu;

public sealed partial class GpuBackend
{
    public void AdamWStep(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1, double beta2, double eps,
        double weightDecay, long step, bool maximize)
    {
        RequireCompute(param, "AdamWStep");
        if (param.Numel == 0) return;
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        if (param.DType == DType.F32) AdamWT<float, F32>(param, grad, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, bc1, bc2, maximize);
        else AdamWT<double, F64>(param, grad, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, bc1, bc2, maximize);
    }

    private void AdamWT<T, TR>(Tensor p, Tensor g, Tensor m, Tensor v, double lr, double b1, double b2, double eps, double wd, double bc1, double bc2, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var k = Kernel("adamw", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, long,
            T, T, T, T, T, T, T, int>(OptimKernels.AdamW));
        TR r = default;
        k(Linear(p.Numel), Data<T>(p), Data<T>(g), Data<T>(m), Data<T>(v), p.Numel,
            r.From(lr), r.From(b1), r.From(b2), r.From(eps), r.From(wd), r.From(bc1), r.From(bc2), maximize ? 1 : 0);
    }

    public void SgdStep(Tensor param, Tensor grad, Tensor? momentumBuffer, double lr, double momentum, double dampening, bool nesterov,
        double weightDecay, bool maximize, bool initializeBuffer)
    {
        RequireCompute(param, "SgdStep");
        if (param.Numel == 0) return;
        if (param.DType == DType.F32) SgdT<float, F32>(param, grad, momentumBuffer, lr, momentum, dampening, nesterov, weightDecay, maximize, initializeBuffer);
        else SgdT<double, F64>(param, grad, momentumBuffer, lr, momentum, dampening, nesterov, weightDecay, maximize, initializeBuffer);
    }

    private void SgdT<T, TR>(Tensor p, Tensor g, Tensor? buf, double lr, double momentum, double dampening, bool nesterov, double wd, bool maximize, bool init)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        var k = Kernel("sgd", typeof(T), a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, int, long,
            T, T, T, int, T, int, int>(OptimKernels.Sgd));
        TR r = default;
        k(Linear(p.Numel), Data<T>(p), Data<T>(g), Data<T>(buf, g), buf is null ? 0 : 1, p.Numel,
            r.From(lr), r.From(momentum), r.From(dampening), nesterov ? 1 : 0, r.From(wd), maximize ? 1 : 0, init ? 1 : 0);
    }

    public void FillRandom(Tensor dst, RandomDistribution distribution, ulong seed, ulong offset, double a, double b)
    {
        RandomSampling.Validate(distribution, dst.DType, a, b);
        if (distribution == RandomDistribution.TruncatedNormal)
            throw NotOnGpu("FillRandom TruncatedNormal", "draw it on the CPU and move it with .To(device)");
        RequireContiguous(dst, "FillRandom");
        if (dst.Numel == 0) return;
        uint threshold = distribution == RandomDistribution.Bernoulli ? RandomSampling.BernoulliThreshold(a) : 0;
        var k = Kernel("fillRandom", typeof(byte), acc => acc.LoadStreamKernel<ArrayView<byte>, long, int, int, ulong, ulong, long, double, double, uint>(RandomKernels.Fill));
        k(Linear(dst.Numel), View<byte>(dst), dst.Offset, (int)dst.DType, (int)distribution, seed, offset, dst.Numel, a, b, threshold);
    }
}

