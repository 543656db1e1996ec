namespace PeftEngine;

/// <summary>
/// Discrete Fourier transforms in the manner of torch.fft. Complex tensors are real f32/f64 tensors with a
/// trailing dimension of size 2 holding (real, imaginary): a complex (..., n) array is stored as (..., n, 2).
/// <see cref="Fft"/> and <see cref="Ifft"/> transform the last complex dimension (real dimension -2),
/// <see cref="Fft2"/> and <see cref="Ifft2"/> the last two (real dimensions -3 and -2); <see cref="Rfft"/> and
/// <see cref="Irfft"/> map real signals to half spectra and back. Any length works (radix-2, or Bluestein for
/// other sizes); kernels compute in f64.
/// </summary>
/// <remarks>
/// Normalization as PyTorch's default ("backward"): the forward transform is unscaled and the inverse scales by
/// 1/n. Backward: a transform y = s·F·x (F the DFT matrix, s its scale) is linear, so treating real and
/// imaginary parts as independent reals, dx = s·Fᴴ·dy, the opposite-sign transform with the same scale.
/// FourierFT's weight update is Real(Ifft2(sparse spectrum)), and trains through these gradients.
/// </remarks>
public static class Spectral
{
    /// <summary>The DFT along the last complex dimension: y[k] = Σ_j x[j]·exp(-2πi·jk/n). x is (..., n, 2).</summary>
    /// <remarks>PyTorch: torch.fft.fft (on torch.view_as_complex(x)).</remarks>
    public static Tensor Fft(Tensor x) => Transform(x, inverse: false, "Fft");

    /// <summary>The inverse DFT along the last complex dimension: x[j] = (1/n)·Σ_k y[k]·exp(2πi·jk/n).</summary>
    /// <remarks>PyTorch: torch.fft.ifft.</remarks>
    public static Tensor Ifft(Tensor x) => Transform(x, inverse: true, "Ifft");

    /// <summary>The 2-D DFT over the last two complex dimensions of x (..., h, w, 2).</summary>
    /// <remarks>PyTorch: torch.fft.fft2.</remarks>
    public static Tensor Fft2(Tensor x) => Transform2(x, inverse: false, "Fft2");

    /// <summary>The inverse 2-D DFT over the last two complex dimensions of x (..., h, w, 2), scaled by 1/(h·w).</summary>
    /// <remarks>PyTorch: torch.fft.ifft2.</remarks>
    public static Tensor Ifft2(Tensor x) => Transform2(x, inverse: true, "Ifft2");

    /// <summary>The DFT of a real signal x (..., n): the non-redundant half spectrum (..., n/2 + 1, 2).</summary>
    /// <remarks>PyTorch: torch.fft.rfft. Composite (a zero imaginary part, Fft, a slice), differentiable.</remarks>
    public static Tensor Rfft(Tensor x)
    {
        DTypes.RequireCompute(x, "Rfft");
        if (x.Rank < 1) throw new ArgumentException($"Rfft: expected a signal (..., n), got shape {x.Shape}");
        int n = x.Shape[-1];
        using var zeros = Tensor.ZerosLike(x);
        using var z = Ops.Stack([x, zeros], -1);   // (..., n) -> (..., n, 2)
        using var full = Fft(z);
        return Ops.Slice(full, -2, 0, n / 2 + 1);  // (..., n/2 + 1, 2)
    }

    /// <summary>
    /// The real signal (..., n) whose half spectrum is x (..., h, 2); n defaults to 2·(h - 1). The missing half
    /// is the Hermitian mirror X[n - k] = conj(X[k]); the imaginary parts of X[0] (and of X[n/2] for even n)
    /// do not affect the result.
    /// </summary>
    /// <remarks>PyTorch: torch.fft.irfft(x, n). Composite (mirror by index-select, Ifft, real part), differentiable.</remarks>
    public static Tensor Irfft(Tensor x, int? n = null)
    {
        RequireComplex(x, "Irfft");
        int h = x.Shape[-2];
        int len = n ?? 2 * (h - 1);
        if (len < 1 || len / 2 + 1 > h)
            throw new ArgumentException($"Irfft: a half spectrum of {h} bins (shape {x.Shape}) cannot give a signal of length {len}; expected 1 ≤ n ≤ {2 * h - 1}");
        var index = new long[len];
        var sign = new double[len * 2];
        for (int k = 0; k < len; k++)
        {
            bool mirrored = k > len / 2;
            index[k] = mirrored ? len - k : k;
            sign[2 * k] = 1;
            sign[2 * k + 1] = mirrored ? -1 : 1;         // conj on the mirrored half
        }
        using var idxHost = Tensor.FromArray(index, len);
        using var idx = idxHost.To(x.Device);
        using var signHost = Tensor.FromArray(sign, len, 2);
        using var signDev = signHost.To(x.Device);
        using var signs = signDev.To(x.DType);
        using var picked = Ops.IndexSelect(x, -2, idx); // (..., n, 2)
        using var full = Ops.Mul(picked, signs);
        using var signal = Ifft(full);
        return Ops.Select(signal, -1, 0);                // the real part, (..., n)
    }

    /// <summary>A complex tensor (..., 2) from its real and imaginary parts (equal shapes).</summary>
    /// <remarks>PyTorch: torch.complex.</remarks>
    public static Tensor Complex(Tensor real, Tensor imag) => Ops.Stack([real, imag], -1);

    /// <summary>The real part (...) of a complex tensor (..., 2).</summary>
    /// <remarks>PyTorch: torch.real.</remarks>
    public static Tensor Real(Tensor z)
    {
        RequireComplex(z, "Real", rank: 1);
        return Ops.Select(z, -1, 0);
    }

    /// <summary>The imaginary part (...) of a complex tensor (..., 2).</summary>
    /// <remarks>PyTorch: torch.imag.</remarks>
    public static Tensor Imag(Tensor z)
    {
        RequireComplex(z, "Imag", rank: 1);
        return Ops.Select(z, -1, 1);
    }

    private static Tensor Transform2(Tensor x, bool inverse, string op)
    {
        RequireComplex(x, op, rank: 3);
        // one cast to f64 for both passes (the f64 passes then cast nothing), one cast back at the end
        using var owned = x.DType == DType.F64 ? null : Ops.Cast(x, DType.F64);
        var src = owned ?? x;
        using var rows = Transform(src, inverse, op);        // along w
        using var t = Ops.Transpose(rows, -3, -2);            // (..., h, w, 2) -> (..., w, h, 2)
        using var cols = Transform(t, inverse, op);           // along h
        var y = Ops.Transpose(cols, -3, -2);                  // back to (..., h, w, 2)
        if (x.DType == DType.F64) return y;
        using (y) return Ops.Cast(y, x.DType);
    }

    private static Tensor Transform(Tensor x, bool inverse, string op)
    {
        RequireComplex(x, op);
        int n = x.Shape[-2];
        var y = Apply(x, inverse, inverse ? 1.0 / n : 1.0, op);
        if (Graph.IsRecording(x)) Graph.Attach(y, new FftNode(!inverse, inverse ? 1.0 / n : 1.0), x);
        return y;
    }

    /// <summary>scale·Σ x[j]·exp(∓2πi·jk/n) along real dimension -2, outside the graph.</summary>
    private static Tensor Apply(Tensor x, bool inverse, double scale, string op)
    {
        int n = x.Shape[-2];
        using var x64 = LinalgArgs.AsF64(x);
        var y = Tensor.Empty(x.Shape, DType.F64, x.Device);
        if (x.Numel > 0)
        {
            using (GradMode.Disable())
            using (var xr = Ops.Reshape(x64, -1, n, 2))      // (..., n, 2) -> (rows, n, 2)
            using (var yr = Ops.Reshape(y, -1, n, 2))
                x.Backend.Fft(xr, yr, inverse, scale);
        }
        return LinalgArgs.FromF64(y, x.DType);
    }

    private static void RequireComplex(Tensor x, string op, int rank = 2)
    {
        x.ThrowIfDisposed();
        DTypes.RequireCompute(x, op);
        if (x.Rank < rank || x.Shape[-1] != 2)
            throw new ArgumentException(
                $"{op}: expected a complex tensor stored as (..., 2) pairs with at least {rank} dimensions, got shape {x.Shape}");
    }

    /// <summary>Backward of y = s·F·x: dx = s·Fᴴ·dy, the transform of the opposite sign with the same scale.</summary>
    private sealed class FftNode(bool adjointInverse, double scale) : GradNode
    {
        public override string Name => "Fft";
        public override Tensor?[] Backward(Tensor g) => [Apply(g, adjointInverse, scale, "Fft backward")];
    }
}
