using PeftEngine.Cpu;

namespace PeftEngine.Tests;

/// <summary>Fast index kernels against the reference ones, on sizes above the parallel threshold.</summary>
public class IndexingKernelTests
{
    /// <summary>Random indices in [0, max) of the given shape (repeats likely).</summary>
    internal static Tensor RandomIndex(int seed, int max, params int[] shape)
    {
        var rng = new Random(seed);
        var v = new long[new Shape(shape).Numel];
        for (int i = 0; i < v.Length; i++) v[i] = rng.Next(max);
        return Tensor.FromArray(v, shape);
    }

    /// <summary>A U8 mask with runs of set and unset bytes of random lengths (like padding), plus lone bytes.</summary>
    private static Tensor RandomMask(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var v = new byte[new Shape(shape).Numel];
        int i = 0;
        while (i < v.Length)
        {
            int run = rng.Next(1, 20);
            byte b = (byte)rng.Next(2);
            for (int k = 0; k < run && i < v.Length; k++, i++) v[i] = b;
        }
        return Tensor.FromArray(v, shape);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void IndexSelectOfAnEmbeddingTableMatchesReference(DType dtype)
    {
        var table = TestData.Uniform(1, new Shape(1000, 64), dtype);
        var ids = RandomIndex(2, 1000, 700);      // 700 x 64 elements, repeats included
        TestData.AssertMatchesReference(x => Ops.IndexSelect(x[0], 0, x[1]), [table, ids]);
        var cube = TestData.Uniform(3, new Shape(7, 300, 33), dtype);
        var mid = RandomIndex(4, 300, 200);
        TestData.AssertMatchesReference(x => Ops.IndexSelect(x[0], 1, x[1]), [cube, mid]);
        var wide = TestData.Uniform(5, new Shape(300, 150), dtype);
        var last = RandomIndex(6, 150, 160);
        TestData.AssertMatchesReference(x => Ops.IndexSelect(Ops.Transpose(x[0], 0, 1), 0, x[1]), [wide, last]);
        TestData.AssertMatchesReference(x => Ops.IndexSelect(x[0], 1, x[1]), [wide, last]);
    }

    [Theory]
    [InlineData(DType.F32, 1000)]
    [InlineData(DType.F64, 1000)]
    [InlineData(DType.F32, 40)]   // about 17 picks per row: long accumulation chains
    public void IndexSelectBackwardMatchesReference(DType dtype, int rows)
    {
        var table = TestData.Uniform(7, new Shape(rows, 64), dtype);
        var ids = RandomIndex(8, rows, 700);
        var weight = TestData.Uniform(9, new Shape(700, 64), dtype);
        TestData.AssertMatchesReference(x =>
        {
            var leaf = x[0].Detach().RequireGrad();
            using var y = Ops.IndexSelect(leaf, 0, x[1]);
            using var s = (y * x[2]).Sum();
            s.Backward();
            return leaf.Grad!;
        }, [table, ids, weight]);
        // the kernel directly, along the middle dimension
        var src = TestData.Uniform(10, new Shape(6, 500, 17), dtype);
        var mid = RandomIndex(11, 90, 500);
        TestData.AssertMatchesReference(x =>
        {
            var acc = TestData.Uniform(12, new Shape(6, 90, 17), dtype, device: x[0].Device);
            Ops.IndexAddInPlace(acc, 1, x[1], x[0]);
            return acc;
        }, [src, mid]);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void GatherMatchesReference(DType dtype)
    {
        var x = TestData.Uniform(13, new Shape(300, 130), dtype);
        TestData.AssertMatchesReference(t => Ops.Gather(t[0], 1, t[1]), [x, RandomIndex(14, 130, 300, 140)]);
        var y = TestData.Uniform(15, new Shape(200, 170), dtype);
        TestData.AssertMatchesReference(t => Ops.Gather(t[0], 0, t[1]), [y, RandomIndex(16, 200, 250, 170)]);
        // strided input, index smaller outside dim
        TestData.AssertMatchesReference(t => Ops.Gather(Ops.Transpose(t[0], 0, 1), 0, t[1]), [y, RandomIndex(17, 170, 300, 150)]);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void ScatterAddAndGatherBackwardMatchReference(DType dtype)
    {
        var x = TestData.Uniform(18, new Shape(300, 130), dtype);
        var src = TestData.Uniform(19, new Shape(300, 200), dtype);
        TestData.AssertMatchesReference(t => Ops.ScatterAdd(t[0], 1, t[1], t[2]), [x, RandomIndex(20, 130, 300, 200), src]);
        // dim 0: one outer row, 500 columns in blocks (the last one partial), 300 sources per column
        var x0 = TestData.Uniform(21, new Shape(100, 500), dtype);
        var src0 = TestData.Uniform(22, new Shape(300, 500), dtype);
        TestData.AssertMatchesReference(t => Ops.ScatterAdd(t[0], 0, t[1], t[2]), [x0, RandomIndex(23, 100, 300, 500), src0]);
        // gather backward = scatter-add of the gradient into zeros
        var w = TestData.Uniform(24, new Shape(300, 140), dtype);
        TestData.AssertMatchesReference(t =>
        {
            var leaf = t[0].Detach().RequireGrad();
            using var g = Ops.Gather(leaf, 1, t[1]);
            using var s = (g * t[2]).Sum();
            s.Backward();
            return leaf.Grad!;
        }, [x, RandomIndex(25, 130, 300, 140), w]);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void MaskedFillMatchesReference(DType dtype)
    {
        var x = TestData.Uniform(26, new Shape(4, 3, 50, 70), dtype);
        TestData.AssertMatchesReference(t => Ops.MaskedFill(t[0], t[1], double.NegativeInfinity), [x, RandomMask(27, 50, 70)]);
        TestData.AssertMatchesReference(t => Ops.MaskedFill(t[0], t[1], 3.5), [x, RandomMask(28, 4, 1, 50, 1)]);
        TestData.AssertMatchesReference(t => Ops.MaskedFill(Ops.Transpose(t[0], 2, 3), t[1], -1), [x, RandomMask(29, 3, 70, 50)]);
        TestData.AssertMatchesReference(t => Ops.MaskedFill(t[0], t[1], 0), [x, RandomMask(30, 4, 3, 50, 70)]);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void TrianglesMatchReference(DType dtype)
    {
        var x = TestData.Uniform(31, new Shape(10, 60, 70), dtype);
        foreach (int k in new[] { -3, 0, 5, 80, -70 })
        {
            TestData.AssertMatchesReference(t => Ops.Tril(t[0], k), [x]);
            TestData.AssertMatchesReference(t => Ops.Triu(t[0], k), [x]);
        }
        TestData.AssertMatchesReference(t => Ops.Tril(Ops.Transpose(t[0], 0, 2), 1), [x]);
        TestData.AssertMatchesReference(t => Ops.FutureMask(250, t[0].Device), [x]);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    [InlineData(DType.I64)]
    public void ArangeMatchesReference(DType dtype)
    {
        var any = TestData.Uniform(32, new Shape(1));
        TestData.AssertMatchesReference(t => Ops.Arange(-7, 50_000, 1, dtype, t[0].Device), [any], atol: 0, rtol: 0);
        TestData.AssertMatchesReference(t => Ops.Arange(3, -20_000, -0.375, dtype, t[0].Device), [any], atol: 0, rtol: 0);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void CatOfStridedInputsMatchesReference(DType dtype)
    {
        var a = TestData.Uniform(33, new Shape(200, 100), dtype);
        var b = TestData.Uniform(34, new Shape(130, 200), dtype);
        TestData.AssertMatchesReference(t => Ops.Cat([t[0], Ops.Transpose(t[1], 0, 1), t[0]], 1), [a, b]);
        TestData.AssertMatchesReference(t => Ops.Stack([t[0], Ops.Slice(Ops.Transpose(t[1], 0, 1), 1, 0, 100)], 1), [a, b]);
    }
}

/// <summary>Runs alone: it changes the global kernel thread count.</summary>
[CollectionDefinition(nameof(ThreadCountCollection), DisableParallelization = true)]
public class ThreadCountCollection;

[Collection(nameof(ThreadCountCollection))]
public class IndexingDeterminismTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void AccumulatingKernelsGiveTheSameBitsForAnyThreadCount(DType dtype)
    {
        var src = TestData.Uniform(40, new Shape(2000, 48), dtype);
        var ids = IndexingKernelTests.RandomIndex(41, 30, 2000);           // ~67 rows land on each destination
        var scatterSrc = TestData.Uniform(42, new Shape(600, 300), dtype);
        var scatterIdx = IndexingKernelTests.RandomIndex(43, 20, 600, 300);

        double[][] Run()
        {
            var acc = Tensor.Zeros(new Shape(30, 48), dtype);
            Ops.IndexAddInPlace(acc, 0, ids, src);
            using var zeros = Tensor.Zeros(new Shape(20, 300), dtype);
            using var scattered = Ops.ScatterAdd(zeros, 0, scatterIdx, scatterSrc);
            using (acc) return [acc.ToDoubleArray(), scattered.ToDoubleArray()];
        }

        int saved = CpuParallel.Threads;
        try
        {
            CpuParallel.Threads = 1;
            var serial = Run();
            foreach (int threads in new[] { 2, 3, 8 })
            {
                CpuParallel.Threads = threads;
                var parallel = Run();
                Assert.Equal(serial[0], parallel[0]);
                Assert.Equal(serial[1], parallel[1]);
            }
        }
        finally
        {
            CpuParallel.Threads = saved;
        }
    }
}
