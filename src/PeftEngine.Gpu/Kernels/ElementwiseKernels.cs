using System.Numerics;
using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>
/// Elementwise kernels: one work item per output element, grid-stride. Inputs are read through a
/// <see cref="Strided"/> layout, so transposed, sliced and broadcast (stride 0) views need no copy. The op is a
/// kernel argument (an int of <see cref="UnaryOp"/> / <see cref="BinaryOp"/>): one compiled kernel per dtype
/// serves every op, and the branch is the same for all threads.
/// </summary>
internal static class ElementwiseKernels
{
    private const double SqrtTwoOverPi = 0.7978845608028654;
    private const double GeluCubic = 0.044715;

    /// <summary>f(x) of <see cref="UnaryOp"/> <paramref name="op"/>, in T (Erf and GeluErf in double).</summary>
    public static T UnaryValue<T, TR>(int op, T x, T alpha, T beta) where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        TR r = default;
        switch ((UnaryOp)op)
        {
            case UnaryOp.Neg: return -x;
            case UnaryOp.Exp: return T.Exp(x);
            case UnaryOp.Log: return T.Log(x);
            case UnaryOp.Sqrt: return T.Sqrt(x);
            case UnaryOp.Rsqrt: return T.One / T.Sqrt(x);
            case UnaryOp.Abs: return T.Abs(x);
            case UnaryOp.Sign: return T.IsNaN(x) ? x : x > T.Zero ? T.One : x < T.Zero ? -T.One : T.Zero;
            case UnaryOp.Square: return x * x;
            case UnaryOp.Reciprocal: return T.One / x;
            case UnaryOp.Sin: return T.Sin(x);
            case UnaryOp.Cos: return T.Cos(x);
            case UnaryOp.Relu: return T.IsNaN(x) ? x : x > T.Zero ? x : T.Zero;
            case UnaryOp.Sigmoid: return DeviceMath.Sigmoid(x);
            case UnaryOp.Tanh: return T.Tanh(x);
            case UnaryOp.Silu: return x * DeviceMath.Sigmoid(x);
            // log(1 + e^x) = max(x, 0) + log(1 + e^-|x|)
            case UnaryOp.Softplus: return (x > T.Zero ? x : T.Zero) + T.Log(T.One + T.Exp(-T.Abs(x)));
            case UnaryOp.Erf: return r.From(DeviceMath.Erf(r.To(x)));
            case UnaryOp.GeluErf: { double d = r.To(x); return r.From(d * DeviceMath.NormalCdf(d)); }
            // x σ(2u), u = √(2/π)(x + 0.044715 x³)
            case UnaryOp.GeluTanh: return x * DeviceMath.Sigmoid(r.From(2 * SqrtTwoOverPi) * (x + r.From(GeluCubic) * x * x * x));
            case UnaryOp.LeakyRelu: return x > T.Zero ? x : alpha * x;
            case UnaryOp.PowScalar: return T.Pow(x, alpha);
            case UnaryOp.Clamp: return DeviceMath.Minimum(DeviceMath.Maximum(x, alpha), beta);
            case UnaryOp.AddScalar: return x + alpha;
            default: return x * alpha; // MulScalar
        }
    }

    /// <summary>f'(x) of <see cref="UnaryOp"/> <paramref name="op"/>; at kinks the same choice as the reference.</summary>
    public static T UnaryDerivative<T, TR>(int op, T x, T alpha, T beta) where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        TR r = default;
        T two = T.One + T.One;
        T half = T.One / two;
        switch ((UnaryOp)op)
        {
            case UnaryOp.Neg: return -T.One;
            case UnaryOp.Exp: return T.Exp(x);
            case UnaryOp.Log: return T.One / x;
            case UnaryOp.Sqrt: return half / T.Sqrt(x);
            case UnaryOp.Rsqrt: return -half / (x * T.Sqrt(x));
            case UnaryOp.Abs: return T.IsNaN(x) ? x : x > T.Zero ? T.One : x < T.Zero ? -T.One : T.Zero;
            case UnaryOp.Sign: return T.Zero;
            case UnaryOp.Square: return two * x;
            case UnaryOp.Reciprocal: return -T.One / (x * x);
            case UnaryOp.Sin: return T.Cos(x);
            case UnaryOp.Cos: return -T.Sin(x);
            case UnaryOp.Relu: return x > T.Zero ? T.One : T.Zero;
            case UnaryOp.Sigmoid: return DeviceMath.Sigmoid(x) * DeviceMath.Sigmoid(-x);
            case UnaryOp.Tanh: { T c = T.Cosh(x); return T.One / (c * c); }
            case UnaryOp.Silu: return DeviceMath.Sigmoid(x) * (T.One + x * DeviceMath.Sigmoid(-x));
            case UnaryOp.Softplus: return DeviceMath.Sigmoid(x);
            case UnaryOp.Erf: return r.From(DeviceMath.ErfDerivative(r.To(x)));
            case UnaryOp.GeluErf: { double d = r.To(x); return r.From(DeviceMath.NormalCdf(d) + d * DeviceMath.NormalPdf(d)); }
            case UnaryOp.GeluTanh:
            {
                // d/dx [x σ(2u)] = σ(2u) + 2x σ(2u) σ(-2u) u', u' = √(2/π)(1 + 3·0.044715 x²)
                T k = r.From(SqrtTwoOverPi);
                T u = k * (x + r.From(GeluCubic) * x * x * x);
                T s = DeviceMath.Sigmoid(two * u);
                T du = k * (T.One + r.From(3 * GeluCubic) * x * x);
                return s + two * x * s * DeviceMath.Sigmoid(-two * u) * du;
            }
            case UnaryOp.LeakyRelu: return x > T.Zero ? T.One : alpha;
            case UnaryOp.PowScalar: return alpha == T.Zero ? T.Zero : alpha * T.Pow(x, alpha - T.One);
            case UnaryOp.Clamp: return x >= alpha && x <= beta ? T.One : T.Zero;
            case UnaryOp.AddScalar: return T.One;
            default: return alpha; // MulScalar
        }
    }

    /// <summary>y[yl(i)] = f(x[xl(i)]).</summary>
    public static void Unary<T, TR>(ArrayView<T> x, Strided xl, ArrayView<T> y, Strided yl, long n, int op, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += step)
            y[yl.At(i)] = UnaryValue<T, TR>(op, x[xl.At(i)], alpha, beta);
    }

    /// <summary>dx[i] = dy[i] · f'(x[xl(i)]); dy and dx contiguous from offsets dyOff, dxOff.</summary>
    public static void UnaryBackward<T, TR>(ArrayView<T> x, Strided xl, ArrayView<T> dy, long dyOff, ArrayView<T> dx, long dxOff, long n, int op, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReal<T>
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += step)
            dx[dxOff + i] = dy[dyOff + i] * UnaryDerivative<T, TR>(op, x[xl.At(i)], alpha, beta);
    }

    /// <summary>a ∘ b of <see cref="BinaryOp"/> <paramref name="op"/>.</summary>
    public static T BinaryValue<T>(int op, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => (BinaryOp)op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Pow => T.Pow(a, b),
        BinaryOp.Maximum => DeviceMath.Maximum(a, b),
        _ => DeviceMath.Minimum(a, b),
    };

    /// <summary>y[i] = a[al(i)] ∘ b[bl(i)]; y contiguous from yOff.</summary>
    public static void Binary<T>(ArrayView<T> a, Strided al, ArrayView<T> b, Strided bl, ArrayView<T> y, long yOff, long n, int op)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += step)
            y[yOff + i] = BinaryValue(op, a[al.At(i)], b[bl.At(i)]);
    }

    /// <summary>da[i] = dy[i] ∂y/∂a, db[i] = dy[i] ∂y/∂b (each only when its flag is set); the rules at ties and
    /// zeros are the reference's (pow, maximum, minimum).</summary>
    public static void BinaryBackward<T>(ArrayView<T> a, Strided al, ArrayView<T> b, Strided bl, ArrayView<T> dy, long dyOff,
        ArrayView<T> da, long daOff, int wantA, ArrayView<T> db, long dbOff, int wantB, long n, int op)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long step = (long)Grid.DimX * Group.DimX;
        T half = T.One / (T.One + T.One);
        for (long i = Grid.GlobalIndex.X; i < n; i += step)
        {
            T x = a[al.At(i)], z = b[bl.At(i)], g = dy[dyOff + i];
            T pa, pb;
            switch ((BinaryOp)op)
            {
                case BinaryOp.Add: pa = T.One; pb = T.One; break;
                case BinaryOp.Sub: pa = T.One; pb = -T.One; break;
                case BinaryOp.Mul: pa = z; pb = x; break;
                case BinaryOp.Div: pa = T.One / z; pb = -x / (z * z); break;
                case BinaryOp.Pow:
                    pa = z == T.Zero ? T.Zero : z * T.Pow(x, z - T.One);
                    pb = x == T.Zero && z >= T.Zero ? T.Zero : T.Pow(x, z) * T.Log(x);
                    break;
                case BinaryOp.Maximum:
                    if (x == z) { pa = half; pb = half; }
                    else { pa = x < z ? T.Zero : T.One; pb = x > z ? T.Zero : T.One; }
                    break;
                default:
                    if (x == z) { pa = half; pb = half; }
                    else { pa = x > z ? T.Zero : T.One; pb = x < z ? T.Zero : T.One; }
                    break;
            }
            if (wantA != 0) da[daOff + i] = g * pa;
            if (wantB != 0) db[dbOff + i] = g * pb;
        }
    }

    /// <summary>y[i] = (a ⋈ b) ? 1 : 0 for <see cref="CompareOp"/> <paramref name="op"/>.</summary>
    public static void Compare<T>(ArrayView<T> a, Strided al, ArrayView<T> b, Strided bl, ArrayView<byte> y, long yOff, long n, int op)
        where T : unmanaged, INumber<T>
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += step)
        {
            T x = a[al.At(i)], z = b[bl.At(i)];
            bool r = (CompareOp)op switch
            {
                CompareOp.Eq => x == z,
                CompareOp.Ne => x != z,
                CompareOp.Lt => x < z,
                CompareOp.Le => x <= z,
                CompareOp.Gt => x > z,
                _ => x >= z,
            };
            y[yOff + i] = r ? (byte)1 : (byte)0;
        }
    }

    /// <summary>y[i] = cond[cl(i)] != 0 ? a[al(i)] : b[bl(i)]; T is an unsigned integer of the element size.</summary>
    public static void Where<T>(ArrayView<byte> cond, Strided cl, ArrayView<T> a, Strided al, ArrayView<T> b, Strided bl, ArrayView<T> y, long yOff, long n)
        where T : unmanaged
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += step)
            y[yOff + i] = cond[cl.At(i)] != 0 ? a[al.At(i)] : b[bl.At(i)];
    }

    /// <summary>y[i] = mask[ml(i)] != 0 ? value : x[xl(i)].</summary>
    public static void MaskedFill<T>(ArrayView<T> x, Strided xl, ArrayView<byte> mask, Strided ml, T value, ArrayView<T> y, long yOff, long n)
        where T : unmanaged
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += step)
            y[yOff + i] = mask[ml.At(i)] != 0 ? value : x[xl.At(i)];
    }
}
