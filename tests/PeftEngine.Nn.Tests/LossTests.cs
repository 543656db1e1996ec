using PeftEngine.Nn;

namespace PeftEngine.Tests;

public class LossTests
{
    [Fact]
    public void KlDivMatchesTheDefinition()
    {
        // input = log q, target = p; per element p (log p − log q), 0 where p = 0.
        double[] p = [0.2, 0.8, 0.0, 0.5, 0.25, 0.25];
        double[] q = [0.5, 0.5, 0.1, 0.3, 0.3, 0.4];
        using var target = Tensor.FromArray(p, 2, 3);
        using var input = Tensor.FromArray(q.Select(v => Math.Log(v)).ToArray(), 2, 3);
        var expected = p.Zip(q, (pi, qi) => pi == 0 ? 0 : pi * (Math.Log(pi) - Math.Log(qi))).ToArray();
        using (var none = Losses.KlDiv(input, target, KlReduction.None))
            TestData.AssertClose(expected, none.ToDoubleArray(), 1e-15);
        using (var sum = Losses.KlDiv(input, target, KlReduction.Sum)) Assert.Equal(expected.Sum(), sum.Item(), 14);
        using (var mean = Losses.KlDiv(input, target)) Assert.Equal(expected.Sum() / 6, mean.Item(), 14);
        using (var bm = Losses.KlDiv(input, target, KlReduction.BatchMean)) Assert.Equal(expected.Sum() / 2, bm.Item(), 14);

        using var logP = Tensor.FromArray(p.Select(v => v == 0 ? -1e300 : Math.Log(v)).ToArray(), 2, 3);
        using var viaLog = Losses.KlDiv(input, logP, KlReduction.Sum, logTarget: true);
        Assert.Equal(expected.Sum(), viaLog.Item(), 14);
    }

    [Fact]
    public void KlDivGradcheckBothArgumentsAndNoNanAtZeroTargets()
    {
        using var input = TestData.Param(1, 3, 4);
        using var target = TestData.Uniform(2, new Shape(3, 4), lo: 0.1, hi: 1).RequireGrad();
        TestData.AssertGradients(a => Losses.KlDiv(a[0], a[1], KlReduction.None), [input, target]);
        TestData.AssertGradients(a => Losses.KlDiv(a[0], a[1], KlReduction.BatchMean), [input, target]);
        using var logTarget = TestData.Param(3, 3, 4);
        TestData.AssertGradients(a => Losses.KlDiv(a[0], a[1], KlReduction.Mean, logTarget: true), [input, logTarget]);

        using var zeros = Tensor.Zeros(new Shape(3, 4), DType.F64).RequireGrad();
        input.ZeroGrad();
        using (var loss = Losses.KlDiv(input, zeros, KlReduction.Sum))
            loss.Backward();
        Assert.All(input.Grad!.ToDoubleArray(), g => Assert.Equal(0, g));
        Assert.All(zeros.Grad!.ToDoubleArray(), g => Assert.False(double.IsNaN(g)));
    }

    [Fact]
    public void CrossEntropyAndMseWrapTheOps()
    {
        using var logits = TestData.Uniform(4, new Shape(5, 3));
        using var targets = Tensor.FromArray(new long[] { 0, 2, 1, 1, -100 }, 5);
        using var a = Losses.CrossEntropy(logits, targets);
        using var b = Ops.CrossEntropy(logits, targets);
        Assert.Equal(b.Item(), a.Item());
        using var y = TestData.Uniform(5, new Shape(5, 3));
        using var m = Losses.Mse(logits, y, LossReduction.Sum);
        using var d = Ops.Sub(logits, y);
        using var sq = Ops.Square(d);
        using var s = Ops.Sum(sq);
        Assert.Equal(s.Item(), m.Item(), 12);
    }
}
