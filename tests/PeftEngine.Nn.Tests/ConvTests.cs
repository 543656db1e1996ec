using PeftEngine.Nn;

namespace PeftEngine.Tests;

public class ConvTests
{
    /// <summary>The definition: y[n,o,i,j] = b[o] + Σ_{c in o's group, a, e} x[n, c, i·sh − ph + a·dh, j·sw − pw + e·dw] · w[o, c′, a, e].</summary>
    private static double[] NaiveConv2d(Tensor x, Tensor w, Tensor? bias, (int, int) stride, (int, int) padding, (int, int) dilation, int groups, out int[] outShape)
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int o = w.Shape[0], cg = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3];
        var (sh, sw) = stride;
        var (ph, pw) = padding;
        var (dh, dw) = dilation;
        int ho = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1, wo = (wd + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
        var xv = x.ToDoubleArray();
        var wv = w.ToDoubleArray();
        var bv = bias?.ToDoubleArray();
        var y = new double[n * o * ho * wo];
        int og = o / groups;
        for (int b = 0; b < n; b++)
            for (int oc = 0; oc < o; oc++)
                for (int i = 0; i < ho; i++)
                    for (int j = 0; j < wo; j++)
                    {
                        double s = bv?[oc] ?? 0;
                        int g = oc / og;
                        for (int cc = 0; cc < cg; cc++)
                            for (int a = 0; a < kh; a++)
                                for (int e = 0; e < kw; e++)
                                {
                                    int yi = i * sh - ph + a * dh, xj = j * sw - pw + e * dw;
                                    if (yi < 0 || yi >= h || xj < 0 || xj >= wd) continue;
                                    int ch = g * cg + cc;
                                    s += xv[((b * c + ch) * h + yi) * wd + xj] * wv[((oc * cg + cc) * kh + a) * kw + e];
                                }
                        y[((b * o + oc) * ho + i) * wo + j] = s;
                    }
        outShape = [n, o, ho, wo];
        return y;
    }

    [Theory]
    [InlineData(1, 1, 0, 0, 1, 1, 1)]
    [InlineData(2, 1, 1, 2, 1, 2, 1)]
    [InlineData(1, 2, 2, 1, 2, 1, 2)]
    [InlineData(2, 2, 1, 1, 1, 1, 4)]
    public void Conv2dMatchesTheNaiveLoop(int sh, int sw, int ph, int pw, int dh, int dw, int groups)
    {
        using var conv = new Conv2d(4, 8, (3, 2), (sh, sw), (ph, pw), (dh, dw), groups, dtype: DType.F64, generator: new Generator(1));
        using var x = TestData.Uniform(2, new Shape(2, 4, 7, 6));
        using var y = conv.Forward(x);
        var expected = NaiveConv2d(x, conv.Weight, conv.Bias!.Data, (sh, sw), (ph, pw), (dh, dw), groups, out var shape);
        Assert.Equal(new Shape(shape), y.Shape);
        TestData.AssertClose(expected, y.ToDoubleArray(), 1e-12, 1e-12);
    }

    [Fact]
    public void Conv2dGradcheck()
    {
        using var conv = new Conv2d(4, 2, (2, 3), (2, 1), (1, 1), (1, 2), groups: 2, dtype: DType.F64, generator: new Generator(3));
        using var x = TestData.Param(4, 1, 4, 5, 6);
        TestData.AssertGradients(_ => conv.Forward(x), LayerTests.WithParameters(conv, x));
    }

    [Fact]
    public void Conv1dMatchesTheNaiveLoopAndGradcheck()
    {
        using var conv = new Conv1d(3, 4, 3, stride: 2, padding: 1, dilation: 2, dtype: DType.F64, generator: new Generator(5));
        Assert.Equal(new Shape(4, 3, 3), conv.Weight.Shape);
        using var x = TestData.Param(6, 2, 3, 9);
        using var y = conv.Forward(x);
        using var x4 = Ops.Unsqueeze(x, 2);
        using var w4 = Ops.Unsqueeze(conv.Weight, 2);
        var expected = NaiveConv2d(x4, w4, conv.Bias!.Data, (1, 2), (0, 1), (1, 2), 1, out var shape);
        Assert.Equal(new Shape(shape[0], shape[1], shape[3]), y.Shape);
        TestData.AssertClose(expected, y.ToDoubleArray(), 1e-12, 1e-12);
        TestData.AssertGradients(_ => conv.Forward(x), LayerTests.WithParameters(conv, x));
    }

    [Fact]
    public void ConvRejectsMismatchedGroupsAndTooLargeKernels()
    {
        Assert.Throws<ArgumentException>(() => new Conv2d(3, 4, (1, 1), groups: 2));
        using var conv = new Conv2d(2, 2, (5, 5));
        using var x = Tensor.Zeros(new Shape(1, 2, 3, 3));
        Assert.Throws<ArgumentException>(() => conv.Forward(x));
    }
}
