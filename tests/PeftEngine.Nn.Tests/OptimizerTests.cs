using PeftEngine.Nn;
using PeftEngine.Nn.Optim;

namespace PeftEngine.Tests;

public class OptimizerTests
{
    private static Parameter P(params double[] values) => new(Tensor.FromArray(values, values.Length));

    private static void SetGrad(Parameter p, params double[] g)
    {
        p.ZeroGrad();
        p.Grad = Tensor.FromArray(g, g.Length);
    }

    [Fact]
    public void PlainSgdStepsAgainstTheGradient()
    {
        using var p = P(1, 2);
        using var opt = new Sgd([p], lr: 0.1);
        SetGrad(p, 0.5, -1);
        opt.Step();
        TestData.AssertClose(new[] { 0.95, 2.1 }, p.Data.ToDoubleArray(), 1e-15);
    }

    [Fact]
    public void SgdMomentumFollowsTheGeometricSequence()
    {
        // Constant gradient g: buffers g, (1+μ)g, (1+μ+μ²)g; p3 = p0 − lr·g·(3 + 2μ + μ²).
        const double lr = 0.1, mu = 0.9, g = 2.0;
        using var p = P(1.0);
        using var opt = new Sgd([p], lr, momentum: mu);
        for (int i = 0; i < 3; i++)
        {
            SetGrad(p, g);
            opt.Step();
        }
        TestData.AssertClose(new[] { 1 - lr * g * (3 + 2 * mu + mu * mu) }, p.Data.ToDoubleArray(), 1e-14);
        TestData.AssertClose(new[] { (1 + mu + mu * mu) * g }, opt.GetState(p)!.Tensors["momentum_buffer"].ToDoubleArray(), 1e-14);
    }

    [Fact]
    public void SgdDampeningNesterovAndWeightDecay()
    {
        // Dampening d: b1 = g, b2 = μ b1 + (1 − d) g.
        using var a = P(0.0);
        using var sa = new Sgd([a], lr: 1, momentum: 0.5, dampening: 0.5);
        SetGrad(a, 1); sa.Step();
        SetGrad(a, 1); sa.Step();
        TestData.AssertClose(new[] { -(1 + (0.5 + 0.5)) }, a.Data.ToDoubleArray(), 1e-15);

        // Nesterov, first step: g + μ·g.
        using var b = P(0.0);
        using var sb = new Sgd([b], lr: 0.1, momentum: 0.9, nesterov: true);
        SetGrad(b, 1); sb.Step();
        TestData.AssertClose(new[] { -0.19 }, b.Data.ToDoubleArray(), 1e-15);

        // Weight decay adds wd·p to the gradient: p = 2, g = 1, wd = 0.5 -> 2 − 0.1·(1 + 1).
        using var c = P(2.0);
        using var sc = new Sgd([c], lr: 0.1, weightDecay: 0.5);
        SetGrad(c, 1); sc.Step();
        TestData.AssertClose(new[] { 1.8 }, c.Data.ToDoubleArray(), 1e-15);
        Assert.Throws<ArgumentException>(() => new Sgd([c], nesterov: true));
    }

    /// <summary>PyTorch's Adam/AdamW step on one scalar, written out in doubles.</summary>
    private static double[] ReferenceAdam(double p, double[] grads, double lr, double b1, double b2, double eps, double wd, bool decoupled)
    {
        double m = 0, v = 0;
        var trace = new double[grads.Length];
        for (int t = 1; t <= grads.Length; t++)
        {
            double g = grads[t - 1];
            if (decoupled) p *= 1 - lr * wd; else g += wd * p;
            m = b1 * m + (1 - b1) * g;
            v = b2 * v + (1 - b2) * g * g;
            double denom = Math.Sqrt(v) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps;
            p -= lr / (1 - Math.Pow(b1, t)) * m / denom;
            trace[t - 1] = p;
        }
        return trace;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AdamAndAdamWMatchTheTorchFormulas(bool decoupled)
    {
        double[] grads = [0.3, -1.2, 0.7, 0.05, 2.0];
        const double lr = 0.01, wd = 0.1;
        using var p = P(1.5);
        using Optimizer opt = decoupled ? new AdamW([p], lr, (0.8, 0.95), 1e-6, wd) : new Adam([p], lr, (0.8, 0.95), 1e-6, wd);
        var expected = ReferenceAdam(1.5, grads, lr, 0.8, 0.95, 1e-6, wd, decoupled);
        for (int i = 0; i < grads.Length; i++)
        {
            SetGrad(p, grads[i]);
            opt.Step();
            TestData.AssertClose(new[] { expected[i] }, p.Data.ToDoubleArray(), 1e-14, 1e-13, $"step {i + 1}");
        }
        Assert.Equal(grads.Length, opt.GetState(p)!.Step);
    }

    [Fact]
    public void FusedAndSpelledOutAdamWTakeTheSameSteps()
    {
        double[][] grads = [[0.3, -1.2, 0.7], [0.05, 2.0, -0.4], [1.1, -0.2, 0.0], [-0.6, 0.9, 3.0]];
        using var fused = P(1.5, -0.5, 0.25);
        using var plain = P(1.5, -0.5, 0.25);
        using var optFused = new AdamW([fused], 0.01, (0.8, 0.95), 1e-6, 0.1);
        using var optPlain = new AdamW([plain], 0.01, (0.8, 0.95), 1e-6, 0.1) { UseFusedKernel = false };
        foreach (var g in grads)
        {
            SetGrad(fused, g);
            SetGrad(plain, g);
            optFused.Step();
            optPlain.Step();
            TestData.AssertClose(plain.Data.ToDoubleArray(), fused.Data.ToDoubleArray(), 1e-15, 1e-13);
        }
    }

    [Fact]
    public void AdamWFirstStepIsLrTimesSignAfterDecay()
    {
        // Step 1: m̂ = g, v̂ = g², so p1 = p0 (1 − lr·wd) − lr · g / (|g| + ε).
        using var p = P(1.0, -2.0, 0.5);
        using var opt = new AdamW([p], lr: 0.1, eps: 1e-8, weightDecay: 0.01);
        SetGrad(p, 3.0, 0.25, -4.0);
        opt.Step();
        double[] expected = [1.0 * 0.999 - 0.1 * 3 / (3 + 1e-8), -2.0 * 0.999 - 0.1 * 0.25 / (0.25 + 1e-8), 0.5 * 0.999 + 0.1 * 4 / (4 + 1e-8)];
        TestData.AssertClose(expected, p.Data.ToDoubleArray(), 1e-14);
    }

    [Fact]
    public void ParameterGroupsUseTheirOwnLearningRateAndDecay()
    {
        using var a = P(1.0);
        using var b = P(1.0);
        using var opt = new Sgd([new ParamGroup([a]), new ParamGroup([b], lr: 0.01, weightDecay: 1.0)], lr: 0.1);
        Assert.Equal(0.1, opt.ParamGroups[0].Lr);
        Assert.Equal(0.0, opt.ParamGroups[0].WeightDecay);
        SetGrad(a, 1);
        SetGrad(b, 1);
        opt.Step();
        Assert.Equal(0.9, a.Data.Item(), 15);
        Assert.Equal(1 - 0.01 * 2, b.Data.Item(), 15);
        Assert.Throws<ArgumentException>(() => new Sgd([new ParamGroup([a]), new ParamGroup([a])]));
    }

    [Fact]
    public void FrozenOrGradlessParametersAreSkipped()
    {
        using var a = P(1.0);
        using var b = P(1.0);
        using var opt = new AdamW([a, b], lr: 0.1);
        SetGrad(a, 1);
        a.RequiresGrad = false;
        opt.Step();
        Assert.Equal(1.0, a.Data.Item());
        Assert.Equal(1.0, b.Data.Item());
        Assert.Null(opt.GetState(a));
        opt.ZeroGrad();
        Assert.Null(a.Grad);
    }

    [Fact]
    public void StateDictRestoresMomentsAndStepCounts()
    {
        using var a = P(1.0, 2.0);
        using var b = P(1.0, 2.0);
        using var optA = new AdamW([a], lr: 0.05);
        using var optB = new AdamW([b], lr: 0.5);
        for (int i = 0; i < 2; i++)
        {
            SetGrad(a, 0.1 * (i + 1), -0.3);
            optA.Step();
        }
        using (GradMode.Disable()) Ops.CopyInPlace(b.Data, a.Data);
        using (var saved = optA.StateDict())
        {
            Assert.Equal(2, saved.State[0].Step);
            optB.LoadStateDict(saved);
        }
        Assert.Equal(0.05, optB.ParamGroups[0].Lr);
        SetGrad(a, 0.7, 0.2);
        SetGrad(b, 0.7, 0.2);
        optA.Step();
        optB.Step();
        Assert.Equal(a.Data.ToDoubleArray(), b.Data.ToDoubleArray());

        using var wrong = new AdamW([new ParamGroup([a]), new ParamGroup([b])]);
        using var s2 = optA.StateDict();
        Assert.Throws<ArgumentException>(() => wrong.LoadStateDict(s2));
    }

    [Fact]
    public void ClipGradNormScalesToTheMaximumAndReturnsTheTotal()
    {
        using var a = P(0, 0);
        using var b = P(0.0);
        SetGrad(a, 3, 4);
        SetGrad(b, 12);
        double total = GradClip.ClipGradNorm([a, b], 6.5);
        Assert.Equal(13, total, 12);
        double coef = 6.5 / (13 + 1e-6);
        TestData.AssertClose(new[] { 3 * coef, 4 * coef }, a.Grad!.ToDoubleArray(), 1e-14);
        TestData.AssertClose(new[] { 12 * coef }, b.Grad!.ToDoubleArray(), 1e-14);

        // Below the maximum nothing changes; the ∞-norm is the largest magnitude.
        SetGrad(a, 3, -4);
        SetGrad(b, 1);
        Assert.Equal(4, GradClip.ClipGradNorm([a, b], 10, double.PositiveInfinity), 12);
        Assert.Equal(new[] { 3.0, -4.0 }, a.Grad!.ToDoubleArray());
        Assert.Equal(0, GradClip.ClipGradNorm([P(1.0)], 1));
    }

    [Fact]
    public void SchedulesHaveHuggingFaceValues()
    {
        var linear = LrSchedule.LinearWithWarmup(10, 110);
        Assert.Equal(0.0, linear(0));
        Assert.Equal(0.5, linear(5), 15);
        Assert.Equal(1.0, linear(10), 15);
        Assert.Equal(0.5, linear(60), 15);
        Assert.Equal(0.0, linear(110));
        Assert.Equal(0.0, linear(150));

        var cosine = LrSchedule.CosineWithWarmup(10, 110);
        Assert.Equal(0.3, cosine(3), 15);
        Assert.Equal(1.0, cosine(10), 15);
        Assert.Equal(0.5, cosine(60), 12);
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * 0.25)), cosine(35), 12);
        Assert.Equal(0.0, cosine(110), 12);

        var constant = LrSchedule.ConstantWithWarmup(4);
        Assert.Equal(0.25, constant(1));
        Assert.Equal(1.0, constant(4));
        Assert.Equal(1.0, constant(1000));
        Assert.Equal(1.0, LrSchedule.Constant()(7));
    }

    [Fact]
    public void SchedulerScalesEachGroupsInitialRate()
    {
        using var a = P(1.0);
        using var b = P(1.0);
        using var opt = new AdamW([new ParamGroup([a]), new ParamGroup([b], lr: 0.01)], lr: 0.1);
        var sched = new LrScheduler(opt, LrSchedule.LinearWithWarmup(4, 8));
        Assert.Equal(new[] { 0.0, 0.0 }, sched.LastLr);
        for (int i = 0; i < 2; i++) sched.Step();
        Assert.Equal(0.05, sched.LastLr[0], 15);
        Assert.Equal(0.005, sched.LastLr[1], 15);
        for (int i = 0; i < 4; i++) sched.Step();
        Assert.Equal(6, sched.StepCount);
        Assert.Equal(0.05, opt.ParamGroups[0].Lr, 15);
    }
}
