using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Unary(UnaryOp op, Tensor x, Tensor y, double alpha = 0, double beta = 0)
    {
        switch (x.DType)
        {
            case DType.F32: UnaryRows<float>(op, x, y, alpha, beta); break;
            case DType.F64: UnaryRows<double>(op, x, y, alpha, beta); break;
            default: throw Unsupported($"Unary {op}", x.DType);
        }
    }

    public void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx, double alpha = 0, double beta = 0)
    {
        switch (x.DType)
        {
            case DType.F32: UnaryBackwardRows<float>(op, x, dy, dx, alpha, beta); break;
            case DType.F64: UnaryBackwardRows<double>(op, x, dy, dx, alpha, beta); break;
            default: throw Unsupported($"UnaryBackward {op}", x.DType);
        }
    }

    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y)
    {
        switch (a.DType)
        {
            case DType.F32: BinaryRows<float>(op, a, b, y); break;
            case DType.F64: BinaryRows<double>(op, a, b, y); break;
            default: throw Unsupported($"Binary {op}", a.DType);
        }
    }

    private static void UnaryRows<T>(UnaryOp op, Tensor x, Tensor y, double alpha, double beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var plan = RowLayout.Of(y, x);
        T* py = y.HostStorage.Ptr<T>(), px = x.HostStorage.Ptr<T>();
        int len = plan.RowLength;
        bool contiguous = plan.InnerStrides[0] == 1 && plan.InnerStrides[1] == 1;
        CpuParallel.For(plan.RowCount, len * 4L, (r0, r1) =>
        {
            T[]? buffer = contiguous ? null : new T[len];
            for (long r = r0; r < r1; r++)
            {
                T* yr = py + plan.Offset(0, r), xr = px + plan.Offset(1, r);
                if (contiguous)
                {
                    UnaryKernels.Apply(op, new ReadOnlySpan<T>(xr, len), new Span<T>(yr, len), T.CreateTruncating(alpha), T.CreateTruncating(beta));
                    continue;
                }
                for (int i = 0; i < len; i++) buffer![i] = xr[i * plan.InnerStrides[1]];
                UnaryKernels.Apply(op, buffer, buffer, T.CreateTruncating(alpha), T.CreateTruncating(beta));
                for (int i = 0; i < len; i++) yr[i * plan.InnerStrides[0]] = buffer![i];
            }
        });
    }

    private static void UnaryBackwardRows<T>(UnaryOp op, Tensor x, Tensor dy, Tensor dx, double alpha, double beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var xc = Ops.ContiguousNoGrad(x);
        T* px = Ptr<T>(xc), pg = Ptr<T>(dy), pd = Ptr<T>(dx);
        long n = xc.Numel;
        const int chunk = 4096;
        CpuParallel.For((n + chunk - 1) / chunk, chunk * 4L, (c0, c1) =>
        {
            for (long c = c0; c < c1; c++)
            {
                long s = c * chunk;
                int len = (int)Math.Min(chunk, n - s);
                UnaryKernels.Backward(op, new ReadOnlySpan<T>(px + s, len), new ReadOnlySpan<T>(pg + s, len), new Span<T>(pd + s, len),
                    T.CreateTruncating(alpha), T.CreateTruncating(beta));
            }
        });
    }

    private static void BinaryRows<T>(BinaryOp op, Tensor a, Tensor b, Tensor y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var plan = RowLayout.Of(y, a, b);
        T* py = y.HostStorage.Ptr<T>(), pa = a.HostStorage.Ptr<T>(), pb = b.HostStorage.Ptr<T>();
        int len = plan.RowLength;
        long sy = plan.InnerStrides[0], sa = plan.InnerStrides[1], sb = plan.InnerStrides[2];
        CpuParallel.For(plan.RowCount, len, (r0, r1) =>
        {
            T[]? bufA = null, bufB = null, bufY = null;
            for (long r = r0; r < r1; r++)
            {
                T* yr = py + plan.Offset(0, r), ar = pa + plan.Offset(1, r), br = pb + plan.Offset(2, r);
                if (sy == 1 && (sa == 1 || sa == 0) && (sb == 1 || sb == 0))
                {
                    BinaryKernels.Apply(op, ar, sa == 0, br, sb == 0, new Span<T>(yr, len));
                    continue;
                }
                // Strided row: gather, compute, scatter.
                bufA ??= new T[len]; bufB ??= new T[len]; bufY ??= new T[len];
                for (int i = 0; i < len; i++) { bufA[i] = ar[i * sa]; bufB[i] = br[i * sb]; }
                fixed (T* fa = bufA, fb = bufB) BinaryKernels.Apply(op, fa, false, fb, false, bufY);
                for (int i = 0; i < len; i++) yr[i * sy] = bufY[i];
            }
        });
    }
}
