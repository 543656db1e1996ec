namespace PeftEngine.Tests;

/// <summary>The fast linear algebra kernels (parallel Jacobi SVD, column-major Householder QR, radix-2 /
/// Bluestein FFT) against the scalar reference kernels, on odd sizes, strided inputs and sizes that cross the
/// parallel threshold. Sign-ambiguous singular vectors are compared through sign-free quantities.</summary>
public class LinalgParityTests
{
    public static TheoryData<int, int, DType> SvdShapes => new()
    {
        { 7, 5, DType.F64 }, { 5, 9, DType.F64 }, { 33, 8, DType.F32 }, { 110, 100, DType.F64 }, { 64, 64, DType.F32 },
    };

    [Theory]
    [MemberData(nameof(SvdShapes))]
    public void SvdMatchesReference(int m, int n, DType dtype)
    {
        double tol = dtype == DType.F32 ? 2e-5 : 1e-11;
        using var a = TestData.Uniform(m * 31 + n, new Shape(m, n), dtype);
        TestData.AssertMatchesReference(x => Linalg.SvdVals(x[0]), [a], tol, tol);
        TestData.AssertMatchesReference(x =>
        {
            using var svd = Linalg.Svd(x[0]);
            using var s1 = Ops.Unsqueeze(svd.S, -1);
            using var svh = Ops.Mul(svd.Vh, s1);
            return Ops.MatMul(svd.U, svh);                   // U·S·Vh
        }, [a], tol, tol);
        TestData.AssertMatchesReference(x =>
        {
            using var svd = Linalg.Svd(x[0]);
            using var vt = Ops.Transpose(svd.Vh, 0, 1);
            return Ops.MatMul(vt, svd.Vh);                   // V·Vᵀ, a sign-free projector
        }, [a], tol * 10, tol * 10);
    }

    [Fact]
    public void SvdOfStridedBatchMatchesReference()
    {
        using var a = TestData.Uniform(5, new Shape(3, 9, 6));
        using var at = Ops.Transpose(a, -1, -2); // (3, 6, 9) strided
        TestData.AssertMatchesReference(x => Linalg.SvdVals(x[0]), [at], 1e-12, 1e-12);
    }

    [Theory]
    [InlineData(9, 5, false, DType.F64)]
    [InlineData(5, 9, false, DType.F32)]
    [InlineData(9, 5, true, DType.F64)]
    [InlineData(150, 150, false, DType.F64)]
    public void QrMatchesReference(int m, int n, bool complete, DType dtype)
    {
        double tol = dtype == DType.F32 ? 1e-5 : 1e-11;
        using var a = TestData.Uniform(m + 7 * n, new Shape(2, m, n), dtype);
        TestData.AssertMatchesReference(x => { using var qr = Linalg.Qr(x[0], complete); return qr.Q.Alias(); }, [a], tol, tol);
        TestData.AssertMatchesReference(x => { using var qr = Linalg.Qr(x[0], complete); return qr.R.Alias(); }, [a], tol, tol);
    }

    [Theory]
    [InlineData(1, 3, DType.F64)]
    [InlineData(7, 5, DType.F64)]
    [InlineData(64, 4, DType.F32)]
    [InlineData(100, 64, DType.F64)]  // Bluestein, parallel rows
    [InlineData(128, 70, DType.F32)]  // radix-2, parallel rows
    [InlineData(1024, 2, DType.F64)]
    [InlineData(1000, 1, DType.F64)]
    public void FftMatchesReference(int n, int rows, DType dtype)
    {
        double tol = dtype == DType.F32 ? 1e-4 : 1e-9;
        using var x = TestData.Uniform(n + rows, new Shape(rows, n, 2), dtype);
        TestData.AssertMatchesReference(t => Spectral.Fft(t[0]), [x], tol, 1e-6);
        TestData.AssertMatchesReference(t => Spectral.Ifft(t[0]), [x], tol, 1e-6);
    }

    [Fact]
    public void StridedFft2MatchesReference()
    {
        using var x = TestData.Uniform(3, new Shape(6, 10, 2));
        using var xt = Ops.Transpose(x, 0, 1); // (10, 6, 2) strided
        TestData.AssertMatchesReference(t => Spectral.Fft2(t[0]), [xt], 1e-11, 1e-9);
    }

    [Fact]
    public void SharedFactorizationsRunOnBothBackends()
    {
        using var g = TestData.Uniform(4, new Shape(40, 40));
        using var gt = Ops.Transpose(g, 0, 1);
        using var gram = Ops.MatMul(gt, g);
        var identity = new double[40 * 40];
        for (int i = 0; i < 40; i++) identity[i * 41] = 1;
        using var eye = Tensor.FromArray(identity, 40, 40);
        using var spd = Ops.Add(gram, eye); // GᵀG + I: symmetric positive definite
        using var b = TestData.Uniform(6, new Shape(40, 3));
        TestData.AssertMatchesReference(x => Linalg.Solve(x[0], x[1]), [g, b], 1e-9, 1e-9);
        TestData.AssertMatchesReference(x => Linalg.Cholesky(x[0]), [spd], 1e-9, 1e-9);
        TestData.AssertMatchesReference(x => { using var e = Linalg.Eigh(x[0]); return e.Eigenvalues.Alias(); }, [spd], 1e-9, 1e-9);
    }
}
