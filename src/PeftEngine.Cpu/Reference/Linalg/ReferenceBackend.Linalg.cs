namespace PeftEngine.Cpu;

/// <summary>
/// Reference linear algebra kernels, written for clarity: a cyclic one-sided Jacobi SVD on the row-major matrix
/// itself, textbook Householder QR with Q accumulated as H₀·H₁·…, and the O(n²) DFT straight from its
/// definition. LU, Cholesky and the eigensolver share the fast backend's single F64 implementation.
/// </summary>
public sealed unsafe partial class ReferenceBackend
{
    public void Svd(Tensor a, Tensor? u, Tensor s, Tensor? vh, bool computeUV)
    {
        var (batch, m, n) = LinalgGeometry.Matrices(a, "Svd");
        int k = Math.Min(m, n);
        double* pa = Ptr<double>(a), ps = Ptr<double>(s);
        double* pu = computeUV ? Ptr<double>(u!) : null, pv = computeUV ? Ptr<double>(vh!) : null;
        for (int b = 0; b < batch; b++)
            ReferenceSvd.Decompose(pa + (long)b * m * n, m, n,
                computeUV ? pu + (long)b * m * k : null, ps + (long)b * k, computeUV ? pv + (long)b * k * n : null);
    }

    public void Qr(Tensor a, Tensor q, Tensor r, bool complete)
    {
        var (batch, m, n) = LinalgGeometry.Matrices(a, "Qr");
        int kq = complete ? m : Math.Min(m, n);
        double* pa = Ptr<double>(a), pq = Ptr<double>(q), pr = Ptr<double>(r);
        for (int b = 0; b < batch; b++)
            ReferenceQr.Decompose(pa + (long)b * m * n, m, n, pq + (long)b * m * kq, pr + (long)b * kq * n, complete);
    }

    public void Eigh(Tensor a, Tensor w, Tensor v) => LinalgShared.Eigh(a, w, v);

    public FactorizationFailure? Cholesky(Tensor a, Tensor l) => LinalgShared.Cholesky(a, l);

    public FactorizationFailure? LuFactor(Tensor a, Tensor lu, Tensor pivots) => LinalgShared.LuFactor(a, lu, pivots);

    public void LuSolve(Tensor lu, Tensor pivots, Tensor b, Tensor x) => LinalgShared.LuSolve(lu, pivots, b, x);

    public void Fft(Tensor x, Tensor y, bool inverse, double scale)
    {
        // y[k] = scale · Σ_j x[j] · exp(∓2πi·jk/n), the angle taken from the exact integer jk mod n
        var (rows, n, _) = LinalgGeometry.Matrices(x, "Fft");
        double* px = Ptr<double>(x), py = Ptr<double>(y);
        double sign = inverse ? 1 : -1;
        for (long r = 0; r < rows; r++)
        {
            double* src = px + r * n * 2, dst = py + r * n * 2;
            for (int k = 0; k < n; k++)
            {
                double re = 0, im = 0;
                for (int j = 0; j < n; j++)
                {
                    double angle = sign * 2 * Math.PI * ((long)j * k % n) / n;
                    double c = Math.Cos(angle), s = Math.Sin(angle);
                    re += src[2 * j] * c - src[2 * j + 1] * s;
                    im += src[2 * j] * s + src[2 * j + 1] * c;
                }
                dst[2 * k] = scale * re;
                dst[2 * k + 1] = scale * im;
            }
        }
    }
}
