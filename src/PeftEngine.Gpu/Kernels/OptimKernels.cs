using System.Numerics;
using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>Fused optimizer steps, one work item per parameter element (formulas in IBackend.Optim).</summary>
internal static class OptimKernels
{
    /// <summary>AdamW: p ← p(1 - lr·wd); m ← β1 m + (1-β1) g; v ← β2 v + (1-β2) g²; p ← p - lr (m/bc1) / (√(v/bc2) + ε).</summary>
    public static void AdamW<T>(ArrayView<T> p, ArrayView<T> g, ArrayView<T> m, ArrayView<T> v, long n,
        T lr, T beta1, T beta2, T eps, T decay, T bc1, T bc2, int maximize) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += step)
        {
            T gi = maximize != 0 ? -g[i] : g[i];
            T pi = p[i] * (T.One - lr * decay);
            T mi = beta1 * m[i] + (T.One - beta1) * gi;
            T vi = beta2 * v[i] + (T.One - beta2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            p[i] = pi - lr * (mi / bc1) / (T.Sqrt(vi / bc2) + eps);
        }
    }

    /// <summary>SGD with optional momentum buffer (hasBuffer), dampening and Nesterov, PyTorch's formulation.</summary>
    public static void Sgd<T>(ArrayView<T> p, ArrayView<T> g, ArrayView<T> buf, int hasBuffer, long n,
        T lr, T momentum, T dampening, int nesterov, T decay, int maximize, int init) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += step)
        {
            T pi = p[i];
            T gi = (maximize != 0 ? -g[i] : g[i]) + decay * pi;
            if (hasBuffer != 0)
            {
                T b = init != 0 ? gi : momentum * buf[i] + (T.One - dampening) * gi;
                buf[i] = b;
                gi = nesterov != 0 ? gi + momentum * b : b;
            }
            p[i] = pi - lr * gi;
        }
    }
}
