using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Rotary(Tensor x, Tensor cos, Tensor sin, int positionOffset, RopeStyle style, bool inverse, Tensor y)
    {
        switch (x.DType)
        {
            case DType.F32: RotaryRows<float>(x, cos, sin, positionOffset, style, inverse, y); break;
            case DType.F64: RotaryRows<double>(x, cos, sin, positionOffset, style, inverse, y); break;
            default: throw Unsupported("Rotary", x.DType);
        }
    }

    private static void RotaryRows<T>(Tensor x, Tensor cos, Tensor sin, int positionOffset, RopeStyle style, bool inverse, Tensor y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int t = x.Shape[-2], d = x.Shape[-1], half = cos.Shape[1];
        long rows = x.Numel / Math.Max(d, 1);
        T* px = Ptr<T>(x), py = Ptr<T>(y), pc = Ptr<T>(cos), ps = Ptr<T>(sin);
        T sign = inverse ? -T.One : T.One;
        CpuParallel.For(rows, d * 3L, (r0, r1) =>
        {
            // ±sin for the current position: s for the second output of a pair, -s for the first
            var buffer = ArrayPool<T>.Shared.Rent(2 * half);
            try
            {
                var plus = buffer.AsSpan(0, half);
                var minus = buffer.AsSpan(half, half);
                for (long r = r0; r < r1; r++)
                {
                    long p = positionOffset + r % t;
                    T* xr = px + r * d, yr = py + r * d;
                    var c = new ReadOnlySpan<T>(pc + p * half, half);
                    TensorPrimitives.Multiply(new ReadOnlySpan<T>(ps + p * half, half), sign, plus);
                    if (style == RopeStyle.RotateHalf)
                    {
                        // (a, b) = (x[..R/2], x[R/2..R]) -> (a c - b s, b c + a s)
                        TensorPrimitives.Negate(plus, minus);
                        var a = new ReadOnlySpan<T>(xr, half);
                        var b = new ReadOnlySpan<T>(xr + half, half);
                        var ya = new Span<T>(yr, half);
                        var yb = new Span<T>(yr + half, half);
                        TensorPrimitives.Multiply(a, c, ya);
                        TensorPrimitives.MultiplyAdd(b, minus, ya, ya);
                        TensorPrimitives.Multiply(b, c, yb);
                        TensorPrimitives.MultiplyAdd(a, plus, yb, yb);
                    }
                    else
                    {
                        // (a, b) = (x[2k], x[2k+1]): neighbours, so a scalar loop over the pairs
                        for (int k = 0; k < half; k++)
                        {
                            T a = xr[2 * k], b = xr[2 * k + 1], ck = c[k], sk = plus[k];
                            yr[2 * k] = a * ck - b * sk;
                            yr[2 * k + 1] = a * sk + b * ck;
                        }
                    }
                    // Features past the rotary width pass through.
                    new ReadOnlySpan<T>(xr + 2 * half, d - 2 * half).CopyTo(new Span<T>(yr + 2 * half, d - 2 * half));
                }
            }
            finally { ArrayPool<T>.Shared.Return(buffer); }
        });
    }
}
