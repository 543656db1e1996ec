using static PeftEngine.Tests.LinalgTestHelpers;

namespace PeftEngine.Tests;

public class DecompositionTests
{
    [Theory]
    [InlineData(7, 5, false)]
    [InlineData(5, 7, false)]
    [InlineData(40, 9, false)]   // tall: QR-preconditioned path
    [InlineData(6, 6, true)]
    [InlineData(9, 4, true)]
    [InlineData(3, 8, true)]
    public void SvdReconstructsWithOrthonormalFactors(int m, int n, bool full)
    {
        using var a = TestData.Uniform(11 + m * n, new Shape(m, n));
        using var svd = Linalg.Svd(a, full);
        int k = Math.Min(m, n);
        Assert.Equal(new Shape(m, full ? m : k), svd.U.Shape);
        Assert.Equal(new Shape(full ? n : k, n), svd.Vh.Shape);
        AssertOrthonormalColumns(svd.U, 1e-12);
        using var v = Ops.Transpose(svd.Vh, 0, 1);
        AssertOrthonormalColumns(v, 1e-12);
        using var uk = Ops.Slice(svd.U, 1, 0, k);
        using var vhk = Ops.Slice(svd.Vh, 0, 0, k);
        using var back = Reconstruct(uk, svd.S, vhk);
        Assert.True(MaxAbsDiff(a, back) < 1e-12);
        var s = svd.S.ToArray<double>();
        for (int i = 1; i < s.Length; i++) Assert.True(s[i - 1] >= s[i]);
    }

    [Fact]
    public void SvdRecoversPlantedSingularValuesIncludingIllConditionedAndRankDeficient()
    {
        double[] planted = [1e3, 10, 1, 1e-3, 1e-7, 0, 0];
        using var a = WithSingularValues(5, 12, 7, planted);
        using var svd = Linalg.Svd(a);
        TestData.AssertClose(planted, svd.S.ToArray<double>(), atol: 1e-12, rtol: 1e-9);
        AssertOrthonormalColumns(svd.U, 1e-12); // completed where σ = 0
        using var back = Reconstruct(svd.U, svd.S, svd.Vh);
        Assert.True(MaxAbsDiff(a, back) < 1e-11);
        using var vals = Linalg.SvdVals(a);
        TestData.AssertClose(planted, vals.ToArray<double>(), atol: 1e-12, rtol: 1e-9);
    }

    [Fact]
    public void SvdOfF32InputIsF32AndBatched()
    {
        using var a = TestData.Uniform(3, new Shape(2, 3, 6, 4), DType.F32);
        using var svd = Linalg.Svd(a);
        Assert.Equal(DType.F32, svd.U.DType);
        Assert.Equal(new Shape(2, 3, 4), svd.S.Shape);
        using var back = Reconstruct(svd.U, svd.S, svd.Vh);
        Assert.True(MaxAbsDiff(a, back) < 1e-5);
    }

    [Fact]
    public void SvdOfAStridedViewUsesItsLogicalLayout()
    {
        using var a = TestData.Uniform(8, new Shape(9, 6));
        using var at = Ops.Transpose(a, 0, 1); // (6, 9) non-contiguous
        using var svd = Linalg.Svd(at);
        using var back = Reconstruct(svd.U, svd.S, svd.Vh);
        Assert.True(MaxAbsDiff(at, back) < 1e-12);
    }

    [Theory]
    [InlineData(7, 4, false)]
    [InlineData(4, 7, false)]
    [InlineData(7, 4, true)]
    [InlineData(5, 5, true)]
    public void QrReconstructsWithUpperTriangularR(int m, int n, bool complete)
    {
        using var a = TestData.Uniform(21 + m, new Shape(2, m, n));
        using var qr = Linalg.Qr(a, complete);
        AssertOrthonormalColumns(qr.Q, 1e-12);
        using var back = Ops.MatMul(qr.Q, qr.R);
        Assert.True(MaxAbsDiff(a, back) < 1e-12);
        using var lower = Ops.Tril(qr.R, -1);
        Assert.Equal(0, MaxAbs(lower));
    }

    [Fact]
    public void EighDiagonalizesSymmetricMatrices()
    {
        using var g = TestData.Uniform(4, new Shape(3, 6, 6));
        using var gt = Ops.Transpose(g, -1, -2);
        using var a = Ops.Add(g, gt);
        using var e = Linalg.Eigh(a);
        AssertOrthonormalColumns(e.Eigenvectors, 1e-12);
        using var back = Reconstruct(e.Eigenvectors, e.Eigenvalues, Ops.Transpose(e.Eigenvectors, -1, -2));
        Assert.True(MaxAbsDiff(a, back) < 1e-12);
        var w = e.Eigenvalues.ToArray<double>();
        for (int b = 0; b < 3; b++)
            for (int i = 1; i < 6; i++) Assert.True(w[b * 6 + i - 1] <= w[b * 6 + i]);
    }

    [Fact]
    public void EighOfAKnownMatrix()
    {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3
        using var a = Tensor.FromArray(new double[,] { { 2, 1 }, { 1, 2 } });
        using var e = Linalg.Eigh(a);
        TestData.AssertClose([1, 3], e.Eigenvalues.ToArray<double>(), 1e-14);
    }

    [Fact]
    public void CholeskyFactorsSpdMatricesAndRejectsOthers()
    {
        using var g = TestData.Uniform(6, new Shape(5, 5));
        using var gram = Gram(g);
        using var eye = Eye(5);
        using var spd = Ops.Add(gram, eye);
        using var l = Linalg.Cholesky(spd);
        using var upper = Ops.Triu(l, 1);
        Assert.Equal(0, MaxAbs(upper));
        using var lt = Ops.Transpose(l, 0, 1);
        using var back = Ops.MatMul(l, lt);
        Assert.True(MaxAbsDiff(spd, back) < 1e-12);

        using var bad = Tensor.FromArray(new double[,] { { 1, 2 }, { 2, 1 } });
        var ex = Assert.Throws<ArgumentException>(() => Linalg.Cholesky(bad));
        Assert.Contains("Cholesky", ex.Message);
        Assert.Contains("not positive definite", ex.Message);
        Assert.Contains("(2, 2)", ex.Message);
    }

    [Fact]
    public void LuWithPivotingReconstructs()
    {
        using var a = TestData.Uniform(7, new Shape(2, 6, 6));
        using var lu = Linalg.Lu(a);
        using var pl = Ops.MatMul(lu.P, lu.L);
        using var back = Ops.MatMul(pl, lu.U);
        Assert.True(MaxAbsDiff(a, back) < 1e-12);
        using var upperOfL = Ops.Triu(lu.L, 1);
        Assert.Equal(0, MaxAbs(upperOfL));
        // partial pivoting keeps every multiplier at most 1 in magnitude
        Assert.True(MaxAbs(lu.L) <= 1 + 1e-15);

        // a zero leading entry needs a row swap
        using var swap = Tensor.FromArray(new double[,] { { 0, 1 }, { 2, 3 } });
        using var f = Linalg.Lu(swap);
        Assert.Equal(new double[] { 0, 1, 1, 0 }, f.P.ToArray<double>());
        Assert.Equal(new double[] { 2, 3, 0, 1 }, f.U.ToArray<double>());
    }

    [Fact]
    public void NonSquareInputsAreRejectedNamingTheOpAndShape()
    {
        using var a = TestData.Uniform(1, new Shape(3, 4));
        foreach (var (name, call) in new (string, Action)[]
                 {
                     ("Eigh", () => Linalg.Eigh(a).Dispose()),
                     ("Cholesky", () => Linalg.Cholesky(a).Dispose()),
                     ("Lu", () => Linalg.Lu(a).Dispose()),
                     ("Inverse", () => Linalg.Inverse(a).Dispose()),
                     ("SlogDet", () => Linalg.SlogDet(a).Dispose()),
                 })
        {
            var ex = Assert.Throws<ArgumentException>(call);
            Assert.Contains(name, ex.Message);
            Assert.Contains("(3, 4)", ex.Message);
        }
        using var v = TestData.Uniform(1, new Shape(4));
        Assert.Contains("rank", Assert.Throws<ArgumentException>(() => Linalg.Svd(v)).Message);
    }

    [Fact]
    public void DecompositionsRefuseToRecordAGraph()
    {
        using var a = TestData.Param(1, 3, 3);
        var ex = Assert.Throws<InvalidOperationException>(() => Linalg.Svd(a));
        Assert.Contains("GradMode.Disable", ex.Message);
        using (GradMode.Disable())
        using (var svd = Linalg.Svd(a))
            Assert.False(svd.S.RequiresGrad);
    }
}
