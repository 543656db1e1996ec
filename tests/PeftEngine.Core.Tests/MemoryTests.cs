namespace PeftEngine.Tests;

/// <summary>Tests that read process-wide counters (allocator bytes, live tensors, the default generator) run
/// alone, after the parallel tests.</summary>
[CollectionDefinition("Memory", DisableParallelization = true)]
public class MemoryCollection;

[Collection("Memory")]
public class MemoryTests
{
    /// <summary>Finalises storages that earlier tests dropped without disposing, so they cannot be freed mid-test.</summary>
    internal static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    [Fact]
    public void ThousandTrainingStepsRunAtFlatMemory()
    {
        Settle();
        var g = new Generator(2024);
        using var w1 = Tensor.Randn(new Shape(32), g, DType.F64).RequireGrad();
        using var b1 = Tensor.Zeros(new Shape(32), DType.F64).RequireGrad();
        using var w2 = Tensor.Randn(new Shape(32), g, DType.F64).RequireGrad();
        Tensor[] parameters = [w1, b1, w2];

        long bytesAt10 = 0, liveAt10 = 0;
        double firstLoss = 0, lastLoss = 0;
        for (int step = 1; step <= 1000; step++)
        {
            using (var scope = TensorScope.Begin())
            {
                var x = Tensor.Randn(new Shape(8, 32), g, DType.F64);
                // (8, 32) * (32) + (32) -> exp(0.1 ·) -> dropout -> · w2 -> sum over features -> mean square
                var h = x * w1 + b1;
                var a = Checkpoint.Run(t => Ops.UnaryForward(UnaryOp.Exp, t[0] * 0.1), [g], h);
                var d = Ops.Dropout(a, 0.1, training: true, g);
                var o = Ops.Sum(d * w2, 1);
                var loss = (o * o).Mean();
                loss.Backward();
                double value = loss.Item();
                if (step == 1) firstLoss = value;
                lastLoss = value;
                using (GradMode.Disable())
                {
                    foreach (var p in parameters)
                    {
                        Ops.SubInPlace(p, p.Grad! * 1e-3);
                        p.ZeroGrad();
                    }
                }
            }
            if (step == 10)
            {
                bytesAt10 = HostAllocator.Shared.BytesInUse;
                liveAt10 = Tensor.LiveCount;
            }
        }
        Assert.Equal(bytesAt10, HostAllocator.Shared.BytesInUse);
        Assert.Equal(liveAt10, Tensor.LiveCount);
        Assert.True(double.IsFinite(lastLoss) && lastLoss != firstLoss);
    }

    [Fact]
    public void ScopeFreesTemporariesButNotKeptTensors()
    {
        Settle();
        long before = HostAllocator.Shared.BytesInUse;
        Tensor a, b, kept;
        using (var scope = TensorScope.Begin())
        {
            a = Tensor.Ones(new Shape(1000));
            b = a * 2.0;
            kept = scope.Keep(a + b);
            Assert.Equal(2, scope.Count); // a and b; the kept sum moved out
            Assert.True(HostAllocator.Shared.BytesInUse > before);
        }
        Assert.True(a.IsDisposed && b.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.Null(kept.Scope);
        Assert.Equal(3.0, kept.ToArray<float>()[999]);
        kept.Dispose();
        Assert.Equal(before, HostAllocator.Shared.BytesInUse);
    }

    [Fact]
    public void NestedScopesHandKeptTensorsToTheEnclosingScope()
    {
        Settle();
        long before = HostAllocator.Shared.BytesInUse;
        Tensor inner, fromInner, outerTemp;
        using (var outer = TensorScope.Begin())
        {
            outerTemp = Tensor.Zeros(new Shape(64));
            using (var scope = TensorScope.Begin())
            {
                inner = Tensor.Ones(new Shape(64));
                fromInner = scope.Keep(inner * 3.0);
                Assert.Same(scope, TensorScope.Current);
            }
            Assert.Same(outer, TensorScope.Current);
            Assert.True(inner.IsDisposed);
            Assert.False(fromInner.IsDisposed);
            Assert.Same(outer, fromInner.Scope);
        }
        Assert.True(fromInner.IsDisposed && outerTemp.IsDisposed);
        Assert.Null(TensorScope.Current);
        Assert.Equal(before, HostAllocator.Shared.BytesInUse);
    }

    [Fact]
    public void DisposingTwiceIsSafe()
    {
        Settle();
        long before = HostAllocator.Shared.BytesInUse;
        long live = Tensor.LiveCount;
        var t = Tensor.Ones(new Shape(10));
        var view = t.Reshape(2, 5);
        t.Dispose();
        t.Dispose();
        Assert.False(view.Storage.IsFreed); // the view still holds the storage
        view.Dispose();
        view.Dispose();
        Assert.Equal(before, HostAllocator.Shared.BytesInUse);
        Assert.Equal(live, Tensor.LiveCount);
        var scope = TensorScope.Begin();
        var s = Tensor.Ones(new Shape(3));
        scope.Dispose();
        scope.Dispose();
        s.Dispose();
        Assert.True(s.IsDisposed);
    }

    [Fact]
    public void UsingADisposedTensorIsAClearError()
    {
        var a = Tensor.Ones(new Shape(2, 3));
        using var b = Tensor.Ones(new Shape(2, 3));
        a.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => Ops.Add(a, b));
        Assert.Contains("disposed", e.Message);
        Assert.Contains("(2, 3)", e.Message);
        Assert.Throws<ObjectDisposedException>(() => a.ToArray<float>());
        Assert.Throws<ObjectDisposedException>(() => Ops.Dropout(a, 0.5));
        Assert.Throws<ObjectDisposedException>(() => Checkpoint.Run(x => x[0] * 2.0, a));
    }
}
