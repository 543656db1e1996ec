using static PeftEngine.Tests.LinalgTestHelpers;

namespace PeftEngine.Tests;

public class MatrixFunctionTests
{
    [Fact]
    public void ExpOfDiagonalIsElementwiseExp()
    {
        double[] d = [-3, 0.5, 2, 9]; // 9 forces scaling and squaring
        var v = new double[16];
        for (int i = 0; i < 4; i++) v[i * 5] = d[i];
        using var a = Tensor.FromArray(v, 4, 4);
        using var e = Linalg.MatrixExp(a);
        var got = e.ToArray<double>();
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                Assert.Equal(i == j ? Math.Exp(d[i]) : 0, got[i * 4 + j], i == j ? Math.Exp(d[i]) * 1e-13 : 1e-13);
    }

    [Fact]
    public void ExpOfSkewMatrixIsOrthogonalWithUnitDeterminant()
    {
        using var g = TestData.Uniform(2, new Shape(2, 6, 6), lo: -3, hi: 3);
        using var gt = Ops.Transpose(g, -1, -2);
        using var skew = Ops.Sub(g, gt);
        using var r = Linalg.MatrixExp(skew);
        AssertOrthonormalColumns(r, 1e-12);
        using var det = Linalg.Det(r);
        TestData.AssertClose([1, 1], det.ToArray<double>(), 1e-12);
    }

    [Fact]
    public void ExpOfNilpotentAndRotationGenerator()
    {
        // exp([[0, 1], [0, 0]]) = [[1, 1], [0, 1]]; exp([[0, -t], [t, 0]]) = rotation by t
        using var n = Tensor.FromArray(new double[,] { { 0, 1 }, { 0, 0 } });
        using var en = Linalg.MatrixExp(n);
        TestData.AssertClose([1, 1, 0, 1], en.ToArray<double>(), 1e-15);
        double t = 0.7;
        using var k = Tensor.FromArray(new double[,] { { 0, -t }, { t, 0 } });
        using var ek = Linalg.MatrixExp(k);
        TestData.AssertClose([Math.Cos(t), -Math.Sin(t), Math.Sin(t), Math.Cos(t)], ek.ToArray<double>(), 1e-15);
    }

    [Fact]
    public void F32InputsComputeInF64AndReturnF32()
    {
        using var a = TestData.Uniform(12, new Shape(2, 5, 5), lo: -2, hi: 2);
        using var a32 = a.To(DType.F32);
        using var e64 = Linalg.MatrixExp(a);
        using var e32 = Linalg.MatrixExp(a32);
        Assert.Equal(DType.F32, e32.DType);
        TestData.AssertClose(e64.ToDoubleArray(), e32.ToDoubleArray(), 1e-5, 1e-5);
        using var at = Ops.Transpose(a32, -1, -2);
        using var sym = Ops.Add(a32, at);
        using var eig = Linalg.Eigh(sym);
        Assert.Equal(DType.F32, eig.Eigenvalues.DType);
        AssertOrthonormalColumns(eig.Eigenvectors, 1e-6);
    }

    [Fact]
    public void MatrixExpGradient()
    {
        TestData.AssertGradients(x => Linalg.MatrixExp(x[0]), [TestData.Param(3, 4, 4)], 1e-5);
        using var big = TestData.Uniform(4, new Shape(3, 3), lo: -4, hi: 4); // norm above θ₁₃: squared
        using var p = big.RequireGrad();
        TestData.AssertGradients(x => Linalg.MatrixExp(x[0]), [p], 1e-5);
    }

    [Fact]
    public void SylvesterSolutionsSatisfyTheEquation()
    {
        using var a = TestData.Uniform(5, new Shape(4, 4));
        using var shift = Ops.Mul(Eye(4), 4);
        using var a2 = Ops.Add(a, shift);
        using var b = TestData.Uniform(6, new Shape(3, 3));
        using var c = TestData.Uniform(7, new Shape(4, 3));
        using var x = Linalg.SolveSylvester(a2, b, c);
        AssertSylvester(a2, b, c, x, 1e-12);

        // symmetric positive definite A and B: the eigendecomposition route
        using var ga = Gram(a);
        using var sa = Ops.Add(ga, Eye(4));
        using var gb = Gram(b);
        using var sb = Ops.Add(gb, Eye(3));
        using var xs = Linalg.SolveSylvester(sa, sb, c);
        AssertSylvester(sa, sb, c, xs, 1e-12);
        using var sa32 = sa.To(DType.F32);
        using var sb32 = sb.To(DType.F32);
        using var c32 = c.To(DType.F32);
        using var x32 = Linalg.SolveSylvester(sa32, sb32, c32);
        TestData.AssertClose(xs.ToDoubleArray(), x32.ToDoubleArray(), 1e-5, 1e-4);
    }

    [Fact]
    public void SylvesterGradient()
    {
        using var shift = Ops.Mul(Eye(3), 4);
        TestData.AssertGradients(x => { using var a = Ops.Add(x[0], shift); return Linalg.SolveSylvester(a, x[1], x[2]); },
            [TestData.Param(8, 3, 3), TestData.Param(9, 2, 2), TestData.Param(10, 3, 2)]);
    }

    private static void AssertSylvester(Tensor a, Tensor b, Tensor c, Tensor x, double tol)
    {
        using var ax = Ops.MatMul(a, x);
        using var xb = Ops.MatMul(x, b);
        using var lhs = Ops.Add(ax, xb);
        double err = MaxAbsDiff(c, lhs);
        Assert.True(err < tol, $"|AX + XB - C| = {err:E3}");
    }
}
