using static PeftEngine.Tests.LinalgTestHelpers;

namespace PeftEngine.Tests;

public class StructuredOpsTests
{
    [Fact]
    public void KronOfKnownMatrices()
    {
        using var a = Tensor.FromArray(new double[,] { { 1, 2 }, { 3, 4 } });
        using var b = Tensor.FromArray(new double[,] { { 0, 5 } });
        using var k = Ops.Kron(a, b);
        Assert.Equal(new Shape(2, 4), k.Shape);
        Assert.Equal(new double[] { 0, 5, 0, 10, 0, 15, 0, 20 }, k.ToArray<double>());
    }

    [Fact]
    public void KronGradients()
    {
        TestData.AssertGradients(x => Ops.Kron(x[0], x[1]), [TestData.Param(1, 2, 3), TestData.Param(2, 3, 2)]);
        TestData.AssertGradients(x => Ops.Kron(x[0], x[1]), [TestData.Param(3, 2, 2, 1), TestData.Param(4, 2, 3, 3)]);
        TestData.AssertGradients(x => { using var t = Ops.Transpose(x[0], 0, 1); return Ops.Kron(t, x[1]); },
            [TestData.Param(5, 3, 2), TestData.Param(6, 2, 2)]);
    }

    [Fact]
    public void BlockDiagMatMulEqualsTheDenseProduct()
    {
        using var x = TestData.Uniform(1, new Shape(2, 5, 12));
        using var r = TestData.Uniform(2, new Shape(3, 4, 4));
        using var y = Ops.BlockDiagMatMul(x, r);
        using var dense = Ops.BlockDiag(r);
        using var expected = Ops.MatMul(x, dense);
        Assert.True(MaxAbsDiff(expected, y) < 1e-14);
        // the dense block-diagonal matrix is zero off the blocks
        Assert.Equal(0, dense.ToArray<double>()[0 * 12 + 4]);
        Assert.Equal(r.ToArray<double>()[16 + 1], dense.ToArray<double>()[4 * 12 + 5]);
    }

    [Fact]
    public void BlockDiagonalGradients()
    {
        TestData.AssertGradients(x => Ops.BlockDiagMatMul(x[0], x[1]), [TestData.Param(1, 3, 6), TestData.Param(2, 2, 3, 3)]);
        TestData.AssertGradients(x => { using var t = Ops.Transpose(x[0], 0, 1); return Ops.BlockDiagMatMul(t, x[1]); },
            [TestData.Param(3, 4, 5), TestData.Param(4, 2, 2, 2)]);
        TestData.AssertGradients(x => Ops.BlockDiag(x[0]), [TestData.Param(5, 2, 2, 2)]);
    }

    [Fact]
    public void ButterflyPermutationsAndProducts()
    {
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 5, 6, 7 }, Ops.ButterflyPermutation(8, 2, 0));
        Assert.Equal(new long[] { 0, 2, 1, 3, 4, 6, 5, 7 }, Ops.ButterflyPermutation(8, 2, 1));
        Assert.Equal(new long[] { 0, 4, 1, 5, 2, 6, 3, 7 }, Ops.ButterflyPermutation(8, 2, 2));
        Assert.Throws<ArgumentException>(() => Ops.ButterflyPermutation(6, 2, 2));

        // with orthogonal blocks, the butterfly product is orthogonal: it preserves row norms
        using var g = TestData.Uniform(3, new Shape(3, 4, 2, 2));
        using var gt = Ops.Transpose(g, -1, -2);
        using var skew = Ops.Sub(g, gt);
        using var rot = Linalg.MatrixExp(skew);  // (3, 4, 2, 2) rotations
        using var eye = Eye(8);
        using var m = Ops.ButterflyMatMul(eye, rot);
        AssertOrthonormalColumns(m, 1e-12);
        // level 2 connects feature 0 with feature 4 (which a block-diagonal factor alone never does)
        Assert.NotEqual(0, m.ToArray<double>()[0 * 8 + 4]);
    }

    [Fact]
    public void ButterflyGradients()
    {
        TestData.AssertGradients(x => Ops.ButterflyMatMul(x[0], x[1]), [TestData.Param(1, 3, 8), TestData.Param(2, 2, 4, 2, 2)]);
    }

    [Fact]
    public void HouseholderProductIsOrthogonalAndMatchesReflections()
    {
        using var u = TestData.Uniform(1, new Shape(3, 6));
        using var h = Ops.HouseholderProduct(u);
        AssertOrthonormalColumns(h, 1e-13);
        using var x = TestData.Uniform(2, new Shape(4, 6));
        using var y = Ops.HouseholderReflect(x, u);
        using var expected = Ops.MatMul(x, h);
        Assert.True(MaxAbsDiff(expected, y) < 1e-14);
        // a single reflection maps u to -u and fixes vectors orthogonal to it
        using var e0 = Tensor.FromArray(new double[] { 1, 0, 0 }, 1, 3);
        using var ref0 = Ops.HouseholderReflect(e0, e0);
        Assert.Equal(new double[] { -1, 0, 0 }, ref0.ToArray<double>());
        using var e1 = Tensor.FromArray(new double[] { 0, 1, 0 }, 1, 3);
        using var ref1 = Ops.HouseholderReflect(e1, e0);
        Assert.Equal(new double[] { 0, 1, 0 }, ref1.ToArray<double>());
        // det of a product of r reflections is (-1)^r
        using var det = Linalg.Det(h);
        Assert.Equal(-1, det.Item(), 12);
    }

    [Fact]
    public void HouseholderGradients()
    {
        TestData.AssertGradients(x => Ops.HouseholderReflect(x[0], x[1]), [TestData.Param(1, 2, 3, 5), TestData.Param(2, 2, 5)]);
        TestData.AssertGradients(x => Ops.HouseholderProduct(x[0]), [TestData.Param(3, 3, 4)]);
    }

    [Fact]
    public void GlobalTopKMaskPicksTheLargestAcrossTensors()
    {
        using var a = Tensor.FromArray(new double[] { 0.1, -5, 2 }, 3);
        using var b = Tensor.FromArray(new float[,] { { 3, -0.2f }, { 0.3f, -4 } });
        var masks = Ops.GlobalTopKMask([a, b], 3);
        Assert.Equal(new byte[] { 0, 1, 0 }, masks[0].ToArray<byte>());
        Assert.Equal(new byte[] { 1, 0, 0, 1 }, masks[1].ToArray<byte>());
        Assert.Equal(new Shape(2, 2), masks[1].Shape);
        foreach (var m in masks) m.Dispose();

        var signed = Ops.GlobalTopKMask([a, b], 2, byMagnitude: false);
        Assert.Equal(new byte[] { 0, 0, 1 }, signed[0].ToArray<byte>());
        Assert.Equal(new byte[] { 1, 0, 0, 0 }, signed[1].ToArray<byte>());
        foreach (var m in signed) m.Dispose();

        var none = Ops.GlobalTopKMask([a], 0);
        Assert.Equal(new byte[] { 0, 0, 0 }, none[0].ToArray<byte>());
        none[0].Dispose();
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.GlobalTopKMask([a, b], 8));
    }

    [Fact]
    public void SparseUpdatesOnIndexSetsUseScatterAddAndGather()
    {
        // a sparse adapter: W + scatter(values at flat positions); its gradient reaches exactly those positions
        using var idx = Tensor.FromArray(new long[] { 0, 5, 11 }, 3);
        TestData.AssertGradients(x =>
        {
            using var flat = Ops.Reshape(x[0], -1);               // (3, 4) -> (12)
            using var updated = Ops.ScatterAdd(flat, 0, idx, x[1]);
            return Ops.Reshape(updated, 3, 4);
        }, [TestData.Param(1, 3, 4), TestData.Param(2, 3)]);
        TestData.AssertGradients(x => { using var flat = Ops.Reshape(x[0], -1); return Ops.Gather(flat, 0, idx); }, [TestData.Param(3, 3, 4)]);
    }
}
