using static PeftEngine.Tests.LinalgTestHelpers;

namespace PeftEngine.Tests;

public class SolveTests
{
    /// <summary>A well-conditioned random square matrix: uniform noise plus 3·I.</summary>
    private static Tensor WellConditioned(int seed, params int[] shape)
    {
        using var g = TestData.Uniform(seed, new Shape(shape));
        using var eye = Eye(shape[^1]);
        using var shifted = Ops.Mul(eye, 3);
        return Ops.Add(g, shifted);
    }

    [Fact]
    public void SolveAndInverseSatisfyTheirDefinitions()
    {
        using var a = WellConditioned(1, 2, 5, 5);
        using var b = TestData.Uniform(2, new Shape(2, 5, 3));
        using var x = Linalg.Solve(a, b);
        using var ax = Ops.MatMul(a, x);
        Assert.True(MaxAbsDiff(b, ax) < 1e-12);

        using var inv = Linalg.Inverse(a);
        using var prod = Ops.MatMul(a, inv);
        using var eye = Eye(5);
        using var eyes = Ops.ExpandAs(eye, prod);
        Assert.True(MaxAbsDiff(eyes, prod) < 1e-12);

        using var v = TestData.Uniform(3, new Shape(2, 5));
        using var xv = Linalg.Solve(a, v);
        Assert.Equal(new Shape(2, 5), xv.Shape);
        using var xv1 = Ops.Unsqueeze(xv, -1);
        using var axv = Ops.MatMul(a, xv1);
        using var axvs = Ops.Squeeze(axv, -1);
        Assert.True(MaxAbsDiff(v, axvs) < 1e-12);

        using var factors = Linalg.LuFactor(a);
        using var x2 = Linalg.LuSolve(factors, b);
        Assert.True(MaxAbsDiff(x, x2) < 1e-13);
    }

    [Fact]
    public void SolveInF32MatchesF64()
    {
        using var a = WellConditioned(4, 6, 6);
        using var b = TestData.Uniform(5, new Shape(6, 2));
        using var x64 = Linalg.Solve(a, b);
        using var a32 = a.To(DType.F32);
        using var b32 = b.To(DType.F32);
        using var x32 = Linalg.Solve(a32, b32);
        Assert.Equal(DType.F32, x32.DType);
        TestData.AssertClose(x64.ToDoubleArray(), x32.ToDoubleArray(), 1e-6, 1e-5);
    }

    [Fact]
    public void SingularSystemsAreRejectedNamingTheMatrix()
    {
        using var a = Tensor.FromArray(new double[,] { { 1, 2 }, { 2, 4 } });
        using var b = Tensor.FromArray(new double[] { 1, 1 });
        var ex = Assert.Throws<ArgumentException>(() => Linalg.Solve(a, b));
        Assert.Contains("Solve", ex.Message);
        Assert.Contains("singular", ex.Message);
        Assert.Contains("(2, 2)", ex.Message);
        Assert.Contains("Inverse", Assert.Throws<ArgumentException>(() => Linalg.Inverse(a)).Message);
        using var bad = TestData.Uniform(1, new Shape(3, 2));
        Assert.Contains("does not match", Assert.Throws<ArgumentException>(() => Linalg.Solve(a, bad)).Message);
    }

    [Fact]
    public void SolveGradients()
    {
        using var shift = Ops.Mul(Eye(4), 3);
        TestData.AssertGradients(x => { using var a = Ops.Add(x[0], shift); return Linalg.Solve(a, x[1]); },
            [TestData.Param(1, 4, 4), TestData.Param(2, 4, 3)]);
        TestData.AssertGradients(x => { using var a = Ops.Add(x[0], shift); return Linalg.Solve(a, x[1]); },
            [TestData.Param(3, 2, 4, 4), TestData.Param(4, 2, 4)]);
        // a transposed (non-contiguous) matrix operand
        TestData.AssertGradients(x =>
        {
            using var a = Ops.Add(x[0], shift);
            using var at = Ops.Transpose(a, 0, 1);
            using var bt = Ops.Transpose(x[1], 0, 1);
            return Linalg.Solve(at, bt);
        }, [TestData.Param(5, 4, 4), TestData.Param(6, 5, 4)]);
    }

    [Fact]
    public void InverseGradient()
    {
        using var shift = Ops.Mul(Eye(5), 3);
        TestData.AssertGradients(x => { using var a = Ops.Add(x[0], shift); return Linalg.Inverse(a); }, [TestData.Param(7, 5, 5)]);
    }

    [Fact]
    public void DeterminantsMatchHandValuesAndHaveGradients()
    {
        using var a = Tensor.FromArray(new double[,] { { 0, 2 }, { 3, 1 } }); // det = -6, needs a pivot swap
        using var sd = Linalg.SlogDet(a);
        Assert.Equal(-1, sd.Sign.Item());
        Assert.Equal(Math.Log(6), sd.LogAbsDet.Item(), 14);
        using var d = Linalg.Det(a);
        Assert.Equal(-6, d.Item(), 13);

        using var singular = Tensor.FromArray(new double[,] { { 1, 2 }, { 2, 4 } });
        using var ss = Linalg.SlogDet(singular);
        Assert.Equal(0, ss.Sign.Item());
        Assert.Equal(double.NegativeInfinity, ss.LogAbsDet.Item());

        using var shift = Ops.Mul(Eye(4), 3);
        TestData.AssertGradients(x => { using var m = Ops.Add(x[0], shift); var r = Linalg.SlogDet(m); r.Sign.Dispose(); return r.LogAbsDet; },
            [TestData.Param(8, 2, 4, 4)]);
        TestData.AssertGradients(x => { using var m = Ops.Add(x[0], shift); return Linalg.Det(m); }, [TestData.Param(9, 4, 4)]);
    }

    [Fact]
    public void PseudoInverseOfRankDeficientMatrixSatisfiesPenroseConditions()
    {
        using var a = WithSingularValues(3, 6, 4, [5, 2, 0.5, 0]);
        using var p = Linalg.PseudoInverse(a);
        Assert.Equal(new Shape(4, 6), p.Shape);
        using var ap = Ops.MatMul(a, p);
        using var apa = Ops.MatMul(ap, a);
        Assert.True(MaxAbsDiff(a, apa) < 1e-12);                 // A·A⁺·A = A
        using var pa = Ops.MatMul(p, a);
        using var pap = Ops.MatMul(pa, p);
        Assert.True(MaxAbsDiff(p, pap) < 1e-12);                 // A⁺·A·A⁺ = A⁺
        using var apt = Ops.Transpose(ap, 0, 1);
        Assert.True(MaxAbsDiff(ap, apt) < 1e-12);                // A·A⁺ symmetric
    }
}
