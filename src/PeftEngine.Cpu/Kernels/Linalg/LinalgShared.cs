namespace PeftEngine.Cpu;

/// <summary>The batch geometry of a linear algebra kernel's operand.</summary>
internal static class LinalgGeometry
{
    /// <summary>(batch, rows, cols) of a contiguous F64 tensor of rank ≥ 2 (leading dimensions are the batch).</summary>
    public static (int Batch, int Rows, int Cols) Matrices(Tensor t, string kernel)
    {
        if (t.DType != DType.F64 || !t.IsContiguous || t.Rank < 2)
            throw new ArgumentException($"{kernel}: kernel expects a contiguous f64 tensor of rank ≥ 2, got {t.DType.Name()} {t.Shape}");
        int rows = t.Shape[-2], cols = t.Shape[-1];
        long per = (long)rows * cols;
        return (per == 0 ? 0 : checked((int)(t.Numel / per)), rows, cols);
    }
}

/// <summary>
/// Batch loops for the kernels with one shared F64 implementation (LU, Cholesky, symmetric eigensolver),
/// used by both the fast and the reference backend.
/// </summary>
internal static unsafe class LinalgShared
{
    public static void Eigh(Tensor a, Tensor w, Tensor v)
    {
        var (batch, n, _) = LinalgGeometry.Matrices(a, "Eigh");
        double* pa = a.HostStorage.Ptr<double>(a.Offset), pw = w.HostStorage.Ptr<double>(w.Offset), pv = v.HostStorage.Ptr<double>(v.Offset);
        for (int b = 0; b < batch; b++)
            JacobiEigen.Decompose(pa + (long)b * n * n, n, pw + (long)b * n, pv + (long)b * n * n);
    }

    public static FactorizationFailure? Cholesky(Tensor a, Tensor l)
    {
        var (batch, n, _) = LinalgGeometry.Matrices(a, "Cholesky");
        double* pa = a.HostStorage.Ptr<double>(a.Offset), pl = l.HostStorage.Ptr<double>(l.Offset);
        for (int b = 0; b < batch; b++)
        {
            int bad = DenseCholesky.Factor(pa + (long)b * n * n, n, pl + (long)b * n * n);
            if (bad >= 0) return new FactorizationFailure(b, bad);
        }
        return null;
    }

    public static FactorizationFailure? LuFactor(Tensor a, Tensor lu, Tensor pivots)
    {
        var (batch, n, _) = LinalgGeometry.Matrices(a, "LuFactor");
        double* pa = a.HostStorage.Ptr<double>(a.Offset), plu = lu.HostStorage.Ptr<double>(lu.Offset);
        long* pp = pivots.HostStorage.Ptr<long>(pivots.Offset);
        new ReadOnlySpan<double>(pa, checked((int)a.Numel)).CopyTo(new Span<double>(plu, checked((int)lu.Numel)));
        FactorizationFailure? first = null;
        for (int b = 0; b < batch; b++)
        {
            int bad = DenseLu.Factor(plu + (long)b * n * n, n, pp + (long)b * n);
            if (bad >= 0 && first is null) first = new FactorizationFailure(b, bad);
        }
        return first;
    }

    public static void LuSolve(Tensor lu, Tensor pivots, Tensor b, Tensor x)
    {
        var (batch, n, _) = LinalgGeometry.Matrices(lu, "LuSolve");
        int k = b.Shape[-1];
        double* plu = lu.HostStorage.Ptr<double>(lu.Offset), pb = b.HostStorage.Ptr<double>(b.Offset), px = x.HostStorage.Ptr<double>(x.Offset);
        long* pp = pivots.HostStorage.Ptr<long>(pivots.Offset);
        new ReadOnlySpan<double>(pb, checked((int)b.Numel)).CopyTo(new Span<double>(px, checked((int)x.Numel)));
        for (int i = 0; i < batch; i++)
            DenseLu.Solve(plu + (long)i * n * n, pp + (long)i * n, n, px + (long)i * n * k, k);
    }
}
