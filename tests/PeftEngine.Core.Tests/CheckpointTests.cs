namespace PeftEngine.Tests;

[Collection("Memory")]
public class CheckpointTests
{
    /// <summary>A block with a captured parameter and several intermediates: exp(x·w + 0.5) · x / (1 + x²).</summary>
    private static Func<Tensor[], Tensor> Block(Tensor w) => x =>
    {
        using var xw = x[0] * w;
        using var h = xw + 0.5;
        using var e = Ops.UnaryForward(UnaryOp.Exp, h);
        using var n = e * x[0];
        using var x2 = x[0] * x[0];
        using var sq = x2 + 1.0;
        return n / sq;
    };

    private static (double[] Dx, double[] Dw, double Loss) Gradients(bool checkpoint)
    {
        using var x = TestData.Param(1, 4, 6);
        using var w = TestData.Param(2, 6);
        using var c = TestData.Uniform(3, new Shape(4, 6)); // an input that needs no gradient
        var block = Block(w);
        using var y = checkpoint ? Checkpoint.Run(t => { using var a = block([t[0]]); return a * t[1]; }, x, c)
                                 : block([x]) * c;
        using var loss = (y * y).Sum();
        loss.Backward();
        return (x.Grad!.ToArray<double>(), w.Grad!.ToArray<double>(), loss.Item());
    }

    [Fact]
    public void GradientsEqualThoseWithoutCheckpointing()
    {
        var plain = Gradients(checkpoint: false);
        var ckpt = Gradients(checkpoint: true);
        Assert.Equal(plain.Loss, ckpt.Loss);
        Assert.Equal(plain.Dx, ckpt.Dx);
        Assert.Equal(plain.Dw, ckpt.Dw);
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        var x = TestData.Param(4, 3, 5);
        var w = TestData.Param(5, 5);
        TestData.AssertGradients(t => Checkpoint.Run(Block(t[1]), t[0]), [x, w]);
    }

    [Fact]
    public void OnlyTheInputsAndTheOutputStayAliveAfterTheForward()
    {
        long Alive(bool checkpoint)
        {
            MemoryTests.Settle();
            using var x = TestData.Uniform(6, new Shape(256, 256)).RequireGrad();
            using var w = TestData.Uniform(7, new Shape(256)).RequireGrad();
            long before = HostAllocator.Shared.BytesInUse;
            using var y = checkpoint ? Checkpoint.Run(Block(w), x) : Block(w)([x]);
            long alive = HostAllocator.Shared.BytesInUse - before;
            using (var s = y.Sum()) s.Backward(); // both graphs still work
            Assert.NotNull(w.Grad);
            return alive;
        }
        long plain = Alive(false), ckpt = Alive(true);
        long output = 256 * 256 * sizeof(double);
        Assert.Equal(output, ckpt);       // just y: the intermediates were freed
        Assert.True(plain >= 6 * output, $"plain {plain} bytes"); // xw, h, e, n, x2, sq are saved for backward
    }

    private static double[] DropoutGrad(Generator[]? preserve, Generator g)
    {
        using var x = TestData.Param(8, 16, 32);
        using var w = TestData.Param(9, 32);
        g.ManualSeed(31);
        Func<Tensor[], Tensor> block = t =>
        {
            using var h = t[0] * w;
            using var d = Ops.Dropout(h, 0.5, true, ReferenceEquals(g, Generator.Default) ? null : g);
            return d * d;
        };
        using var y = preserve is null ? block([x]) : Checkpoint.Run(block, preserve, x);
        using var more = Tensor.Rand(new Shape(100), g); // the generator moves on before backward
        using var s = y.Sum();
        s.Backward();
        return [.. x.Grad!.ToArray<double>(), .. w.Grad!.ToArray<double>()];
    }

    [Fact]
    public void DropoutInsideACheckpointReplaysItsMask()
    {
        var g = new Generator(0);
        var plain = DropoutGrad(null, g);
        Assert.Equal(plain, DropoutGrad([g], g));
        // Without preserving the generator the recompute draws a different mask: the gradients differ.
        Assert.NotEqual(plain, DropoutGrad([], g));
        // The default generator is preserved by the plain overload.
        var defaultState = Generator.Default.GetState();
        try
        {
            var plainDefault = DropoutGrad(null, Generator.Default);
            Generator.Default.ManualSeed(0);
            Assert.Equal(plainDefault, DropoutGrad([Generator.Default], Generator.Default));
        }
        finally { Generator.Default.SetState(defaultState); }
    }

    [Fact]
    public void RecomputeLeavesTheGeneratorWhereItWas()
    {
        var g = new Generator(3);
        using var x = TestData.Param(10, 8);
        using var y = Checkpoint.Run(t => Ops.Dropout(t[0], 0.5, true, g), [g], x);
        var state = g.GetState();
        using var s = y.Sum();
        s.Backward();
        Assert.Equal(state, g.GetState());
    }

    [Fact]
    public void FrozenInputsWithCapturedParametersStillTrain()
    {
        using var x = TestData.Uniform(11, new Shape(3, 4)); // e.g. frozen embeddings
        using var w = TestData.Param(12, 4);
        using var y = Checkpoint.Run(t => t[0] * w, x);
        Assert.True(y.RequiresGrad);
        using var s = y.Sum();
        s.Backward();
        Assert.Null(x.Grad);
        using var expected = Ops.Sum(x, 0);
        Assert.Equal(expected.ToArray<double>(), w.Grad!.ToArray<double>());
    }

    [Fact]
    public void NestedCheckpointsAndNoGradMode()
    {
        var x = TestData.Param(13, 2, 3);
        var w = TestData.Param(14, 3);
        TestData.AssertGradients(t => Checkpoint.Run(a => Checkpoint.Run(b => b[0] * t[1] * b[0], a[0]) * 2.0, t[0]), [x, w]);
        using (GradMode.Disable())
        {
            using var y = Checkpoint.Run(a => a[0] * 2.0, x);
            Assert.Null(y.GradFn);
        }
        // A block that hands its input back still gives the caller a tensor of its own.
        using var same = Checkpoint.Run(a => a[0], x);
        Assert.NotSame(x, same);
        Assert.Equal(x.ToArray<double>(), same.ToArray<double>());
    }
}
