using PeftEngine.Cpu;

namespace PeftEngine.Tests;

/// <summary>
/// Fast vs reference parity of the reduce, scan, sort and top-k kernels (F32 and F64, shapes that cross the
/// parallel threshold, reductions over first, middle and last dimensions), plus exact values for ties, NaN,
/// infinities and empty dimensions on both backends.
/// </summary>
/// <remarks>NaN rules under test: max/min and argmax/argmin pick the first NaN (NaN beats every number);
/// sort puts NaN after every number ascending and before every number descending; logsumexp of a slice holding
/// NaN is NaN.</remarks>
public class ReductionKernelTests
{
    private static readonly Device[] Devices = [Device.Cpu, Device.CpuReference];

    // (shape, dim): last-dim rows (single and chunked), a middle dim, and a first dim wider than one column block
    public static TheoryData<DType, int[], int> Layouts()
    {
        var data = new TheoryData<DType, int[], int>();
        foreach (var dt in new[] { DType.F32, DType.F64 })
        {
            data.Add(dt, [64, 1000], 1);
            data.Add(dt, [3, 20000], 1);
            data.Add(dt, [4, 60, 201], 1);
            data.Add(dt, [20, 2100], 0);
            data.Add(dt, [5, 3, 7], 2);
        }
        return data;
    }

    private static double Atol(DType dt) => dt == DType.F32 ? 2e-4 : 1e-9;

    private static Tensor Take(ValuesAndIndices r, bool indices)
    {
        (indices ? r.Values : r.Indices).Dispose();
        return indices ? r.Indices : r.Values;
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void SumMeanProdAndLogSumExpMatchReference(DType dt, int[] shape, int dim)
    {
        var x = TestData.Uniform(1, new Shape(shape), dt);
        TestData.AssertMatchesReference(t => Ops.Sum(t[0], dim), [x], Atol(dt));
        TestData.AssertMatchesReference(t => Ops.Mean(t[0], dim, keepDim: true), [x], Atol(dt));
        TestData.AssertMatchesReference(t => Ops.LogSumExp(t[0], dim), [x], Atol(dt));
        var p = TestData.Uniform(2, new Shape(shape), dt, 0.995, 1.005);
        TestData.AssertMatchesReference(t => Ops.Prod(t[0], dim), [p], Atol(dt), dt == DType.F32 ? 1e-4 : 1e-9);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void MaxMinAndArgMatchReference(DType dt, int[] shape, int dim)
    {
        var x = TestData.Uniform(3, new Shape(shape), dt);
        var ties = Ties(4, new Shape(shape), dt, levels: 5);
        foreach (var input in new[] { x, ties })
        {
            TestData.AssertMatchesReference(t => Take(Ops.Max(t[0], dim), false), [input], 0, 0);
            TestData.AssertMatchesReference(t => Take(Ops.Max(t[0], dim), true), [input], 0, 0);
            TestData.AssertMatchesReference(t => Take(Ops.Min(t[0], dim, keepDim: true), true), [input], 0, 0);
            TestData.AssertMatchesReference(t => Ops.ArgMin(t[0], dim), [input], 0, 0);
            TestData.AssertMatchesReference(t => Ops.ArgMax(t[0]), [input], 0, 0);
            TestData.AssertMatchesReference(t => Ops.Min(t[0]), [input], 0, 0);
        }
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void ReductionsOfStridedViewsMatchReference(DType dt)
    {
        var x = TestData.Uniform(5, new Shape(33, 70, 20), dt);
        TestData.AssertMatchesReference(t => Ops.Sum(Ops.Transpose(t[0], 0, 2), [1, 2]), [x], Atol(dt));
        TestData.AssertMatchesReference(t => Take(Ops.Max(Ops.Slice(t[0], 1, 3, 70, 2), 1), true), [x], 0, 0);
        TestData.AssertMatchesReference(t => Ops.LogSumExp(Ops.Permute(t[0], 2, 0, 1), [0, 2]), [x], Atol(dt));
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void ScansMatchReference(DType dt, int[] shape, int dim)
    {
        var x = TestData.Uniform(6, new Shape(shape), dt);
        var p = TestData.Uniform(7, new Shape(shape), dt, 0.999, 1.001);
        double atol = dt == DType.F32 ? 2e-3 : 1e-9;
        TestData.AssertMatchesReference(t => Ops.CumSum(t[0], dim), [x], atol);
        foreach (bool reverse in new[] { false, true })
            foreach (bool exclusive in new[] { false, true })
            {
                TestData.AssertMatchesReference(t => ScanKernel(ScanOp.Sum, t[0], dim, reverse, exclusive), [x], atol);
                TestData.AssertMatchesReference(t => ScanKernel(ScanOp.Prod, t[0], dim, reverse, exclusive), [p], atol, 1e-4);
            }
    }

    [Theory]
    [InlineData(DType.F32, new[] { 100, 500 }, 1)]
    [InlineData(DType.F64, new[] { 100, 500 }, 1)]
    [InlineData(DType.F32, new[] { 300, 2, 70 }, 0)]
    [InlineData(DType.F64, new[] { 7, 301, 9 }, 1)]
    public void SortAndTopKMatchReference(DType dt, int[] shape, int dim)
    {
        int n = shape[dim];
        foreach (var x in new[] { TestData.Uniform(8, new Shape(shape), dt), Ties(9, new Shape(shape), dt, levels: 7) })
            foreach (bool desc in new[] { false, true })
            {
                TestData.AssertMatchesReference(t => Take(Ops.Sort(t[0], dim, desc), false), [x], 0, 0);
                TestData.AssertMatchesReference(t => Take(Ops.Sort(t[0], dim, desc), true), [x], 0, 0);
                foreach (int k in new[] { 1, n / 8, n / 2, n - 1 })
                {
                    TestData.AssertMatchesReference(t => Take(Ops.TopK(t[0], k, dim, desc), false), [x], 0, 0);
                    TestData.AssertMatchesReference(t => Take(Ops.TopK(t[0], k, dim, desc), true), [x], 0, 0);
                }
            }
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void SelectionBackwardMatchesReference(DType dt)
    {
        // The gradients of topk (picked along the last and the first dimension) and of max, on both backends.
        var x = TestData.Uniform(10, new Shape(120, 400), dt);
        var g = TestData.Uniform(11, new Shape(120, 400), dt);
        TestData.AssertMatchesReference(t => GradOf(t[0], t[1], v => Ops.TopK(v, 37, 1).Values), [x, g], 1e-12, 0);
        TestData.AssertMatchesReference(t => GradOf(t[0], t[1], v => Ops.TopK(v, 5, 0, largest: false).Values), [x, g], 1e-12, 0);
        TestData.AssertMatchesReference(t => GradOf(t[0], t[1], v => Ops.Max(v, 0, keepDim: true).Values), [x, g], 1e-12, 0);
    }

    [Fact]
    public void ResultsDoNotDependOnTheThreadCount()
    {
        var x = TestData.Uniform(12, new Shape(2, 70000), DType.F32);
        double[] Run()
        {
            using var s = Ops.Sum(x, 1);
            using var l = Ops.LogSumExp(x, 1);
            using var c = Ops.CumSum(x, 0);
            return [.. s.ToDoubleArray(), .. l.ToDoubleArray(), .. c.ToDoubleArray()];
        }
        var parallel = Run();
        int saved = CpuParallel.Threads;
        CpuParallel.Threads = 1;
        try { Assert.Equal(parallel, Run()); }
        finally { CpuParallel.Threads = saved; }
    }

    [Fact]
    public void ArgMaxTakesTheFirstOfTiesAndNaNWins()
    {
        double nan = double.NaN;
        foreach (var dev in Devices)
            foreach (var dt in new[] { DType.F32, DType.F64 })
            {
                // rows: ties, NaN among numbers, -0 vs +0, all -inf
                double[] data = [1, 3, 3, 2, /**/ 1, nan, 5, nan, /**/ -0.0, 0.0, -1, -2, /**/ double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity];
                using var x = Make(data, [4, 4], dt, dev);
                using var xt = Ops.Contiguous(Ops.Transpose(x, 0, 1)); // the same rows as columns: inner > 1
                using (var a = Ops.ArgMax(x, 1)) Assert.Equal(new long[] { 1, 1, 0, 0 }, a.ToArray<long>());
                using (var a = Ops.ArgMax(xt, 0)) Assert.Equal(new long[] { 1, 1, 0, 0 }, a.ToArray<long>());
                using (var a = Ops.ArgMin(x, 1)) Assert.Equal(new long[] { 0, 1, 3, 0 }, a.ToArray<long>());
                using (var a = Ops.ArgMin(xt, 0)) Assert.Equal(new long[] { 0, 1, 3, 0 }, a.ToArray<long>());
                using (var m = Ops.Max(x, 1))
                {
                    var v = m.Values.ToDoubleArray();
                    Assert.Equal(3, v[0]);
                    Assert.True(double.IsNaN(v[1]));
                    Assert.Equal(double.NegativeInfinity, v[3]);
                }
                using (var a = Ops.ArgMax(x)) Assert.Equal(5L, a.ToArray<long>()[0]); // the first NaN, row-major
            }
    }

    [Fact]
    public void SortIsStableAndPutsNaNLast()
    {
        double[] data = [3, 1, 2, 1, 3, double.NaN, 2];
        foreach (var dev in Devices)
            foreach (var dt in new[] { DType.F32, DType.F64 })
            {
                using var x = Make(data, [7], dt, dev);
                using (var s = Ops.Sort(x))
                {
                    Assert.Equal(new double[] { 1, 1, 2, 2, 3, 3, double.NaN }, s.Values.ToDoubleArray());
                    Assert.Equal(new long[] { 1, 3, 2, 6, 0, 4, 5 }, s.Indices.ToArray<long>());
                }
                using (var s = Ops.Sort(x, descending: true))
                {
                    Assert.Equal(new double[] { double.NaN, 3, 3, 2, 2, 1, 1 }, s.Values.ToDoubleArray());
                    Assert.Equal(new long[] { 5, 0, 4, 2, 6, 1, 3 }, s.Indices.ToArray<long>());
                }
                // Along the first dimension of a (7, 2) tensor: the same order in each column.
                using var cols = Ops.Contiguous(Ops.Expand(Ops.Reshape(x, 7, 1), 7, 2));
                using (var a = Ops.ArgSort(cols, 0)) Assert.Equal(new long[] { 1, 1, 3, 3, 2, 2, 6, 6, 0, 0, 4, 4, 5, 5 }, a.ToArray<long>());
            }
    }

    [Fact]
    public void TopKOfAKnownArray()
    {
        // Long enough (k * 8 <= n) for the fast kernel's heap path as well as the full-sort path.
        double[] data = [5, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4];
        foreach (var dev in Devices)
            foreach (var dt in new[] { DType.F32, DType.F64 })
            {
                using var x = Make(data, [24], dt, dev);
                using (var t = Ops.TopK(x, 3))
                {
                    Assert.Equal(new double[] { 9, 9, 9 }, t.Values.ToDoubleArray());
                    Assert.Equal(new long[] { 5, 12, 14 }, t.Indices.ToArray<long>());
                }
                using (var t = Ops.TopK(x, 2, largest: false))
                {
                    Assert.Equal(new double[] { 1, 1 }, t.Values.ToDoubleArray());
                    Assert.Equal(new long[] { 1, 3 }, t.Indices.ToArray<long>());
                }
                using (var t = Ops.TopK(x, 5))
                {
                    Assert.Equal(new double[] { 9, 9, 9, 8, 8 }, t.Values.ToDoubleArray());
                    Assert.Equal(new long[] { 5, 12, 14, 11, 18 }, t.Indices.ToArray<long>());
                }
                using (var t = Ops.TopK(x, 0)) Assert.Equal(new Shape(0), t.Values.Shape);
                Assert.Throws<ArgumentOutOfRangeException>(() => Ops.TopK(x, 25));
            }
    }

    [Fact]
    public void LogSumExpHandlesInfinitiesAndNaN()
    {
        double inf = double.PositiveInfinity;
        double[] data = [1000, 1000, /**/ -inf, -inf, /**/ inf, 1, /**/ double.NaN, 1, /**/ -inf, 0];
        foreach (var dev in Devices)
            foreach (var dt in new[] { DType.F32, DType.F64 })
            {
                using var x = Make(data, [5, 2], dt, dev);
                using var xt = Ops.Contiguous(Ops.Transpose(x, 0, 1));
                foreach (var y in new[] { Ops.LogSumExp(x, 1), Ops.LogSumExp(xt, 0) })
                {
                    var v = y.ToDoubleArray();
                    Assert.Equal(1000 + Math.Log(2), v[0], dt == DType.F32 ? 3 : 9);
                    Assert.Equal(-inf, v[1]);
                    Assert.Equal(inf, v[2]);
                    Assert.True(double.IsNaN(v[3]));
                    Assert.Equal(0, v[4], 6);
                    y.Dispose();
                }
            }
    }

    [Fact]
    public void EmptyDimensions()
    {
        foreach (var dev in Devices)
        {
            using var x = Tensor.Empty(new Shape(0, 3), DType.F32, dev);
            using (var s = Ops.Sum(x, 0)) Assert.Equal(new float[] { 0, 0, 0 }, s.ToArray<float>());
            using (var p = Ops.Prod(x, 0)) Assert.Equal(new float[] { 1, 1, 1 }, p.ToArray<float>());
            using (var l = Ops.LogSumExp(x, 0)) Assert.All(l.ToArray<float>(), v => Assert.Equal(float.NegativeInfinity, v));
            using (var m = Ops.Mean(x, 0)) Assert.All(m.ToArray<float>(), v => Assert.True(float.IsNaN(v)));
            using (var c = Ops.CumSum(x, 0)) Assert.Equal(new Shape(0, 3), c.Shape);
            using (var s = Ops.Sort(x, 0)) Assert.Equal(new Shape(0, 3), s.Values.Shape);
            Assert.Throws<ArgumentException>(() => Ops.Max(x, 0));
            Assert.Throws<ArgumentException>(() => Ops.ArgMin(x));
        }
    }

    [Fact]
    public void ExactValuesOfCumSumAndProd()
    {
        foreach (var dev in Devices)
        {
            using var x = Make([1, 2, 3, 4, 5, 6], [2, 3], DType.F64, dev);
            using (var c = Ops.CumSum(x, 1)) Assert.Equal(new double[] { 1, 3, 6, 4, 9, 15 }, c.ToArray<double>());
            using (var c = Ops.CumSum(x, 0)) Assert.Equal(new double[] { 1, 2, 3, 5, 7, 9 }, c.ToArray<double>());
            using (var p = Ops.Prod(x, 1)) Assert.Equal(new double[] { 6, 120 }, p.ToArray<double>());
            using (var p = Ops.Prod(x)) Assert.Equal(720, p.Item());
            using var y = Tensor.Empty(x.Shape, DType.F64, dev);
            x.Backend.Scan(ScanOp.Sum, x, 1, y, reverse: true, exclusive: true);
            Assert.Equal(new double[] { 5, 3, 0, 11, 6, 0 }, y.ToArray<double>());
            x.Backend.Scan(ScanOp.Prod, x, 1, y, reverse: false, exclusive: true);
            Assert.Equal(new double[] { 1, 1, 2, 1, 4, 20 }, y.ToArray<double>());
        }
    }

    /// <summary>Runs a scan kernel directly (Ops only exposes the inclusive forward sum).</summary>
    private static Tensor ScanKernel(ScanOp op, Tensor x, int dim, bool reverse, bool exclusive)
    {
        var y = Tensor.EmptyLike(x);
        x.Backend.Scan(op, x, dim, y, reverse, exclusive);
        return y;
    }

    /// <summary>d(Σ f(x) · g)/dx, computed on x's device.</summary>
    private static Tensor GradOf(Tensor x, Tensor g, Func<Tensor, Tensor> f)
    {
        using var leaf = Ops.Clone(x).RequireGrad();
        using (var y = f(leaf))
        using (var rows = Ops.Slice(g, 0, 0, y.Shape[0]))
        using (var gy = Ops.Slice(rows, 1, 0, y.Shape[1]))
        using (var w = Ops.Mul(y, gy))
        using (var s = Ops.Sum(w))
            s.Backward();
        return leaf.Grad!;
    }

    /// <summary>Integers in [0, levels): many ties.</summary>
    private static Tensor Ties(int seed, Shape shape, DType dt, int levels)
    {
        var rng = new Random(seed);
        var v = new double[shape.Numel];
        for (int i = 0; i < v.Length; i++) v[i] = rng.Next(levels);
        using var t = Tensor.FromArray(v, shape.ToArray());
        return t.To(dt);
    }

    private static Tensor Make(double[] data, int[] shape, DType dt, Device dev)
    {
        using var t = Tensor.FromArray(data, shape);
        using var c = t.To(dt);
        return c.To(dev);
    }
}
