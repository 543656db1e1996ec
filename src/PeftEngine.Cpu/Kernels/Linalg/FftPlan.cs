namespace PeftEngine.Cpu;

/// <summary>
/// A complex FFT of one length n, reused for every row of a call. A power-of-two n runs the iterative radix-2
/// Cooley–Tukey transform (bit-reversal permutation, then log₂n passes of butterflies with a precomputed
/// twiddle table). Any other n runs Bluestein's algorithm: with the chirp w_j = exp(∓iπ·j²/n),
/// X_k = w_k · Σ_j (x_j·w_j) · conj(w_{k-j}), a convolution computed by radix-2 FFTs of length M ≥ 2n - 1.
/// </summary>
/// <remarks>Fast path of IBackend.Fft (PyTorch: torch.fft.fft). Twiddles and chirps are computed from exact
/// integer angle indices (j² mod 2n), so long transforms keep double accuracy.</remarks>
internal sealed class FftPlan
{
    private readonly int _n;
    private readonly bool _inverse;
    private readonly Radix2? _radix2;        // n a power of two
    private readonly Radix2? _conv;          // Bluestein: length-M transforms
    private readonly double[]? _chirpRe, _chirpIm, _kernelRe, _kernelIm;

    public FftPlan(int n, bool inverse)
    {
        _n = n;
        _inverse = inverse;
        if ((n & (n - 1)) == 0) { _radix2 = new Radix2(n); return; }
        int size = 1;
        while (size < 2 * n - 1) size <<= 1;
        _conv = new Radix2(size);
        double sign = inverse ? 1 : -1;
        _chirpRe = new double[n];
        _chirpIm = new double[n];
        for (int j = 0; j < n; j++)
        {
            long e = (long)j * j % (2L * n);              // exp(sign·iπ·j²/n) has period 2n in j²
            double angle = sign * Math.PI * e / n;
            (_chirpIm[j], _chirpRe[j]) = Math.SinCos(angle);
        }
        // the convolution kernel b_j = conj(w_j), wrapped: b_{M-j} = b_j; transformed once
        _kernelRe = new double[size];
        _kernelIm = new double[size];
        for (int j = 0; j < n; j++)
        {
            _kernelRe[j] = _chirpRe[j];
            _kernelIm[j] = -_chirpIm[j];
            if (j > 0)
            {
                _kernelRe[size - j] = _chirpRe[j];
                _kernelIm[size - j] = -_chirpIm[j];
            }
        }
        _conv.Transform(_kernelRe, _kernelIm, inverse: false);
    }

    /// <summary>Transforms one row in place (separate real and imaginary arrays of length n), unscaled.</summary>
    public void Transform(double[] re, double[] im)
    {
        if (_radix2 is not null) { _radix2.Transform(re, im, _inverse); return; }
        int size = _kernelRe!.Length;
        var ar = new double[size];
        var ai = new double[size];
        for (int j = 0; j < _n; j++) // a_j = x_j · w_j
        {
            ar[j] = re[j] * _chirpRe![j] - im[j] * _chirpIm![j];
            ai[j] = re[j] * _chirpIm[j] + im[j] * _chirpRe[j];
        }
        _conv!.Transform(ar, ai, inverse: false);
        for (int k = 0; k < size; k++) // pointwise product with the transformed kernel
        {
            double r = ar[k] * _kernelRe[k] - ai[k] * _kernelIm![k];
            ai[k] = ar[k] * _kernelIm[k] + ai[k] * _kernelRe[k];
            ar[k] = r;
        }
        _conv.Transform(ar, ai, inverse: true);
        double inv = 1.0 / size;
        for (int k = 0; k < _n; k++) // X_k = w_k · conv_k / M
        {
            double cr = ar[k] * inv, ci = ai[k] * inv;
            re[k] = cr * _chirpRe![k] - ci * _chirpIm![k];
            im[k] = cr * _chirpIm[k] + ci * _chirpRe[k];
        }
    }

    /// <summary>Iterative radix-2 transform of a power-of-two length, unscaled.</summary>
    private sealed class Radix2
    {
        private readonly int _n;
        private readonly double[] _cos, _sin; // exp(-2πi·k/n) = cos - i·sin, k < n/2
        private readonly int[] _reverse;

        public Radix2(int n)
        {
            _n = n;
            _cos = new double[Math.Max(1, n / 2)];
            _sin = new double[Math.Max(1, n / 2)];
            for (int k = 0; k < n / 2; k++) (_sin[k], _cos[k]) = Math.SinCos(2 * Math.PI * k / n);
            _reverse = new int[n];
            int bits = 0;
            while ((1 << bits) < n) bits++;
            for (int i = 0; i < n; i++)
            {
                int r = 0;
                for (int b = 0; b < bits; b++) if ((i & (1 << b)) != 0) r |= 1 << (bits - 1 - b);
                _reverse[i] = r;
            }
        }

        public void Transform(double[] re, double[] im, bool inverse)
        {
            int n = _n;
            for (int i = 0; i < n; i++)
            {
                int r = _reverse[i];
                if (r > i)
                {
                    (re[i], re[r]) = (re[r], re[i]);
                    (im[i], im[r]) = (im[r], im[i]);
                }
            }
            double sign = inverse ? 1 : -1;
            for (int len = 2; len <= n; len <<= 1)
            {
                int half = len >> 1, stride = n / len;
                for (int start = 0; start < n; start += len)
                    for (int k = 0; k < half; k++)
                    {
                        double wr = _cos[k * stride], wi = sign * _sin[k * stride];
                        int a = start + k, b = a + half;
                        double tr = re[b] * wr - im[b] * wi;
                        double ti = re[b] * wi + im[b] * wr;
                        re[b] = re[a] - tr;
                        im[b] = im[a] - ti;
                        re[a] += tr;
                        im[a] += ti;
                    }
            }
        }
    }
}
