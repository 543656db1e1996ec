namespace PeftEngine.Cpu;

/// <summary>
/// Linear algebra kernels of the fast backend: each walks the batch of contiguous F64 matrices and calls the
/// per-matrix routine (Jacobi or Golub–Kahan SVD, Householder QR, Jacobi eigensolver, Cholesky, LU, FFT plan).
/// </summary>
public sealed unsafe partial class CpuBackend
{
    public void Svd(Tensor a, Tensor? u, Tensor s, Tensor? vh, bool computeUV)
    {
        var (batch, m, n) = LinalgGeometry.Matrices(a, "Svd");
        int k = Math.Min(m, n);
        double* pa = Ptr<double>(a), ps = Ptr<double>(s);
        double* pu = computeUV ? Ptr<double>(u!) : null, pv = computeUV ? Ptr<double>(vh!) : null;
        // Jacobi for small matrices (component-wise accurate, fast enough), Golub–Kahan for large ones
        bool large = k >= GolubKahanSvd.MinSize;
        for (int b = 0; b < batch; b++)
        {
            double* ab = pa + (long)b * m * n, ub = computeUV ? pu + (long)b * m * k : null;
            double* sb = ps + (long)b * k, vb = computeUV ? pv + (long)b * k * n : null;
            if (large) GolubKahanSvd.Decompose(ab, m, n, ub, sb, vb);
            else JacobiSvd.Decompose(ab, m, n, ub, sb, vb);
        }
    }

    public void Qr(Tensor a, Tensor q, Tensor r, bool complete)
    {
        var (batch, m, n) = LinalgGeometry.Matrices(a, "Qr");
        int kq = complete ? m : Math.Min(m, n);
        double* pa = Ptr<double>(a), pq = Ptr<double>(q), pr = Ptr<double>(r);
        for (int b = 0; b < batch; b++)
            HouseholderQr.Decompose(pa + (long)b * m * n, m, n, pq + (long)b * m * kq, pr + (long)b * kq * n, complete);
    }

    public void Eigh(Tensor a, Tensor w, Tensor v) => LinalgShared.Eigh(a, w, v);

    public FactorizationFailure? Cholesky(Tensor a, Tensor l) => LinalgShared.Cholesky(a, l);

    public FactorizationFailure? LuFactor(Tensor a, Tensor lu, Tensor pivots) => LinalgShared.LuFactor(a, lu, pivots);

    public void LuSolve(Tensor lu, Tensor pivots, Tensor b, Tensor x) => LinalgShared.LuSolve(lu, pivots, b, x);

    public void Fft(Tensor x, Tensor y, bool inverse, double scale)
    {
        var (rows, n, two) = LinalgGeometry.Matrices(x, "Fft");
        if (two != 2) throw new ArgumentException($"Fft: expected (rows, n, 2) complex pairs, got {x.Shape}");
        var plan = new FftPlan(n, inverse);
        double* px = Ptr<double>(x), py = Ptr<double>(y);
        long work = (long)n * Math.Max(1, (int)Math.Log2(n)) * 8;
        CpuParallel.For(rows, work, (r0, r1) =>
        {
            var re = new double[n];
            var im = new double[n];
            for (long r = r0; r < r1; r++)
            {
                double* src = px + r * n * 2, dst = py + r * n * 2;
                for (int j = 0; j < n; j++) { re[j] = src[2 * j]; im[j] = src[2 * j + 1]; }
                plan.Transform(re, im);
                for (int j = 0; j < n; j++) { dst[2 * j] = scale * re[j]; dst[2 * j + 1] = scale * im[j]; }
            }
        });
    }
}
