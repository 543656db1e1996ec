using PeftEngine.Nn;
using PeftEngine.Nn.Optim;

namespace PeftEngine.Tests;

/// <summary>Long-lived state (parameters, buffers, optimizer moments, caches) must survive a step's TensorScope.</summary>
public class ScopeTests
{
    [Fact]
    public void StateCreatedInsideAScopeOutlivesIt()
    {
        Linear lin;
        AdamW opt;
        KvCache cache;
        using (var scope = TensorScope.Begin())
        {
            lin = new Linear(3, 2, generator: new Generator(1));
            lin.To(DType.F64);
            opt = new AdamW(lin.Parameters());
            cache = new KvCache(1, 1, 4, 2);
            using var x = Tensor.Ones(new Shape(2, 3), DType.F64);
            var loss = Ops.Sum(lin.Forward(x));
            loss.Backward();
            opt.Step();
        }
        Assert.False(lin.Weight.Data.IsDisposed);
        Assert.False(opt.GetState(lin.Weight)!.Tensors["exp_avg"].IsDisposed);
        using var k = Tensor.Zeros(new Shape(1, 1, 1, 2));
        var (ks, vs) = cache.Append(k, k);
        ks.Dispose();
        vs.Dispose();
        cache.Dispose();
        opt.Dispose();
        lin.Dispose();
        Assert.True(lin.Weight.Data.IsDisposed);
    }

    [Fact]
    public void EmptySequentialPassesGradientsThrough()
    {
        using var seq = new Sequential();
        using var x = TestData.Param(1, 2, 3);
        TestData.AssertGradients(a => seq.Forward(a[0]), [x]);
    }
}
