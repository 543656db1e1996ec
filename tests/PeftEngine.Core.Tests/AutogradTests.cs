namespace PeftEngine.Tests;

public class AutogradTests
{
    [Fact]
    public void ArithmeticGradientsMatchFiniteDifferencesWithBroadcasting()
    {
        var a = TestData.Param(1, 2, 3, 4);
        var b = TestData.Param(2, 3, 1);
        var c = TestData.Param(3, 4);
        TestData.AssertGradients(x => (x[0] + x[1]) * x[2] - x[0] / (x[1] * x[1] + 2.0), [a, b, c]);
    }

    [Fact]
    public void SumAndMeanOverDimensions()
    {
        var a = TestData.Param(4, 3, 5, 2);
        TestData.AssertGradients(x => Ops.Sum(x[0], [0, 2], keepDim: true) * 3.0, [a]);
        TestData.AssertGradients(x => Ops.Mean(x[0], 1), [a]);
        TestData.AssertGradients(x => Ops.Sum(x[0]), [a]);
    }

    [Fact]
    public void GradientsAccumulateAcrossUsesAndBackwardCalls()
    {
        var a = Tensor.FromArray(new double[] { 1, 2, 3 }).RequireGrad();
        using (var y = (a * a).Sum()) y.Backward();            // d/da Σa² = 2a
        using (var y = (a * 3.0).Sum()) y.Backward();          // + 3
        Assert.Equal(new double[] { 5, 7, 9 }, a.Grad!.ToArray<double>());
    }

    [Fact]
    public void FrozenInputsGetNoGradient()
    {
        var w = TestData.Param(5, 3);
        var frozen = TestData.Uniform(6, new Shape(3));
        using var y = (w * frozen).Sum();
        y.Backward();
        Assert.NotNull(w.Grad);
        Assert.Null(frozen.Grad);
        Assert.False(frozen.RequiresGrad);
    }

    [Fact]
    public void NoGradModeRecordsNothing()
    {
        var w = TestData.Param(7, 3);
        using (GradMode.Disable())
        {
            using var y = w * 2.0;
            Assert.False(y.RequiresGrad);
            Assert.Null(y.GradFn);
        }
    }

    [Fact]
    public void BackwardTwiceThroughAFreedGraphIsAClearError()
    {
        var w = TestData.Param(8, 3);
        using var y = (w * w).Sum();
        y.Backward();
        var ex = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("retainGraph", ex.Message);
    }

    [Fact]
    public void RetainGraphAllowsASecondBackward()
    {
        var w = Tensor.FromArray(new double[] { 1, 2 }).RequireGrad();
        using var y = (w * w).Sum();
        y.Backward(retainGraph: true);
        y.Backward();
        Assert.Equal(new double[] { 4, 8 }, w.Grad!.ToArray<double>());
    }

    [Fact]
    public void InPlaceChangeOfASavedTensorIsDetected()
    {
        var w = TestData.Param(9, 3);
        var x = TestData.Uniform(10, new Shape(3));
        using var y = (w * x).Sum();   // saves x for dw
        Ops.AddInPlace(x, x);
        var ex = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("modified in place", ex.Message);
    }

    [Fact]
    public void NonScalarBackwardNeedsAGradient()
    {
        var w = TestData.Param(11, 3);
        using var y = w * 2.0;
        Assert.Throws<ArgumentException>(() => y.Backward());
        using var g = Tensor.FromArray(new double[] { 1, 0, 2 });
        y.Backward(g);
        Assert.Equal(new double[] { 2, 0, 4 }, w.Grad!.ToArray<double>());
    }

    [Fact]
    public void DetachCutsTheGraph()
    {
        var w = TestData.Param(12, 3);
        using var y = w * 2.0;
        using var d = y.Detach();
        Assert.False(d.RequiresGrad);
        Assert.Null(d.GradFn);
    }
}

public class PassThroughGradientTests
{
    [Fact]
    public void MovingToTheSameDeviceKeepsTheGraph()
    {
        var w = Tensor.FromArray(new double[] { 1, 2 }).RequireGrad();
        using var same = w.To(Device.Cpu);
        using var y = (same * same).Sum();
        y.Backward();
        Assert.Equal(new double[] { 2, 4 }, w.Grad!.ToArray<double>());
    }

    [Fact]
    public void MovingBetweenDevicesCarriesTheGradientBack()
    {
        var w = Tensor.FromArray(new double[] { 1, 2 }).RequireGrad();
        using var r = w.To(Device.CpuReference);
        using var y = (r * 3.0).Sum();
        y.Backward();
        Assert.Equal(Device.Cpu, w.Grad!.Device);
        Assert.Equal(new double[] { 3, 3 }, w.Grad.ToArray<double>());
    }
}
