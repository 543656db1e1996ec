using PeftEngine.Cpu;

namespace PeftEngine.Tests;

/// <summary>
/// The fast neural-network kernels against the reference kernels (forward and backward, f32 and f64, rows
/// long enough for SIMD and enough of them for threads), plus values computed by hand.
/// </summary>
public class NnKernelTests
{
    private static Tensor Ids(long[] values, params int[] shape) => Tensor.FromArray(values, shape);

    /// <summary>Random ids in [0, n), with -100 at every <paramref name="ignoreEvery"/>-th position when given.</summary>
    private static Tensor RandomIds(int seed, int count, int n, int ignoreEvery = 0)
    {
        var rng = new Random(seed);
        var v = new long[count];
        for (int i = 0; i < count; i++) v[i] = ignoreEvery > 0 && i % ignoreEvery == 0 ? -100 : rng.Next(n);
        return Tensor.FromArray(v);
    }

    /// <summary>
    /// Runs f forward and backward (weighted by a fixed random tensor) on the fast and the reference backend,
    /// and compares the outputs and the gradients of the float inputs marked in <paramref name="grad"/>.
    /// </summary>
    private static void AssertParity(Func<Tensor[], Tensor> f, Tensor[] inputs, bool[] grad, double tol)
    {
        double[] Run(Device device, out double[][] grads)
        {
            var xs = inputs.Select(t => t.To(device)).ToArray();
            for (int i = 0; i < xs.Length; i++) if (grad[i]) xs[i].RequireGrad();
            using var y = f(xs);
            using var probe = TestData.Uniform(99, y.Shape, y.DType, device: device);
            using (var weighted = y * probe)
            using (var s = weighted.Sum())
                s.Backward();
            grads = xs.Select((t, i) => grad[i] ? t.Grad!.ToDoubleArray() : []).ToArray();
            var values = y.ToDoubleArray();
            foreach (var t in xs) { t.ZeroGrad(); t.Dispose(); }
            return values;
        }

        var fast = Run(Device.Cpu, out var fastGrads);
        var reference = Run(Device.CpuReference, out var refGrads);
        TestData.AssertClose(reference, fast, tol, tol, "output");
        for (int i = 0; i < inputs.Length; i++)
            if (grad[i]) TestData.AssertClose(refGrads[i], fastGrads[i], tol, tol, $"gradient of input {i}");
    }

    private static double Tol(DType dtype) => dtype == DType.F32 ? 2e-4 : 1e-10;

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void SoftmaxMatchesReference(DType dtype)
    {
        var x = TestData.Uniform(1, new Shape(64, 257), dtype, -6, 6);
        AssertParity(t => Ops.Softmax(t[0]), [x], [true], Tol(dtype));
        AssertParity(t => Ops.LogSoftmax(t[0]), [x], [true], Tol(dtype));
        var y = TestData.Uniform(2, new Shape(3, 33, 5), dtype, -4, 4);
        AssertParity(t => Ops.Softmax(t[0], 1), [y], [true], Tol(dtype));             // a middle dimension
        AssertParity(t => Ops.LogSoftmax(Ops.Transpose(t[0], 0, 2)), [y], [true], Tol(dtype));
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void LayerNormMatchesReference(DType dtype)
    {
        var x = TestData.Uniform(3, new Shape(4, 37, 131), dtype, -3, 5);
        var w = TestData.Uniform(4, new Shape(131), dtype);
        var b = TestData.Uniform(5, new Shape(131), dtype);
        AssertParity(t => Ops.LayerNorm(t[0], weight: t[1], bias: t[2]), [x, w, b], [true, true, true], Tol(dtype));
        AssertParity(t => Ops.LayerNorm(t[0], weight: t[1], bias: t[2]), [x, w, b], [false, true, false], Tol(dtype));
        AssertParity(t => Ops.LayerNorm(t[0], bias: t[1]), [x, b], [true, false], Tol(dtype));
        var xt = TestData.Uniform(6, new Shape(131, 37), dtype);
        AssertParity(t => Ops.LayerNorm(Ops.Transpose(t[0], 0, 1), weight: t[1]), [xt, w], [true, true], Tol(dtype));
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void RmsNormMatchesReference(DType dtype)
    {
        var x = TestData.Uniform(7, new Shape(3, 45, 129), dtype, -2, 2);
        var w = TestData.Uniform(8, new Shape(129), dtype);
        AssertParity(t => Ops.RmsNorm(t[0], t[1]), [x, w], [true, true], Tol(dtype));
        AssertParity(t => Ops.RmsNorm(t[0]), [x], [true], Tol(dtype));
        AssertParity(t => Ops.RmsNorm(t[0], t[1]), [x, w], [false, true], Tol(dtype));
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void CrossEntropyMatchesReference(DType dtype)
    {
        var logits = TestData.Uniform(9, new Shape(3, 40, 301), dtype, -5, 5);   // (B, T, C)
        using var flat = RandomIds(10, 120, 301, ignoreEvery: 7);
        var targets = flat.Reshape(3, 40);
        AssertParity(t => Ops.CrossEntropy(t[0], t[1]), [logits, targets], [true, false], Tol(dtype));
        AssertParity(t => Ops.CrossEntropy(t[0], t[1], labelSmoothing: 0.1, reduction: LossReduction.None), [logits, targets], [true, false], Tol(dtype));
        AssertParity(t => Ops.CrossEntropy(t[0], t[1], labelSmoothing: 0.3, reduction: LossReduction.Sum), [logits, targets], [true, false], Tol(dtype));
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void EmbeddingMatchesReference(DType dtype)
    {
        var w = TestData.Uniform(11, new Shape(50, 130), dtype);
        using var flat = RandomIds(12, 300, 50);   // many repeats
        var ids = flat.Reshape(12, 25);
        AssertParity(t => Ops.Embedding(t[0], t[1]), [w, ids], [true, false], Tol(dtype));
    }

    [Theory]
    [InlineData(DType.F32, RopeStyle.Interleaved)]
    [InlineData(DType.F32, RopeStyle.RotateHalf)]
    [InlineData(DType.F64, RopeStyle.Interleaved)]
    [InlineData(DType.F64, RopeStyle.RotateHalf)]
    public void RotaryMatchesReference(DType dtype, RopeStyle style)
    {
        var x = TestData.Uniform(13, new Shape(2, 4, 40, 64), dtype);
        var (cos, sin) = Ops.RotaryTables(64, 100, dtype: dtype);
        AssertParity(t => Ops.ApplyRotary(t[0], t[1], t[2], 7, style), [x, cos, sin], [true, false, false], Tol(dtype));
        var (cos48, sin48) = Ops.RotaryTables(48, 100, dtype: dtype);   // partial rotary width
        var xt = TestData.Uniform(14, new Shape(2, 40, 4, 64), dtype);
        AssertParity(t => Ops.ApplyRotary(Ops.Transpose(t[0], 1, 2), t[1], t[2], 0, style), [xt, cos48, sin48], [true, false, false], Tol(dtype));
    }

    [Fact]
    public void GradientSumsDoNotDependOnTheThreadCount()
    {
        var x = TestData.Uniform(15, new Shape(300, 97), DType.F32);
        var w = TestData.Uniform(16, new Shape(97), DType.F32);
        var table = TestData.Uniform(17, new Shape(20, 97), DType.F32);
        using var idsFlat = RandomIds(18, 300, 20);
        double[][] Grads()
        {
            x.ZeroGrad(); w.ZeroGrad(); table.ZeroGrad();
            using (var y = Ops.LayerNorm(x, weight: w))
            using (var e = Ops.Embedding(table, idsFlat))
            using (var prod = y * e)
            using (var s = prod.Sum())
                s.Backward();
            return [x.Grad!.ToDoubleArray(), w.Grad!.ToDoubleArray(), table.Grad!.ToDoubleArray()];
        }
        x.RequireGrad(); w.RequireGrad(); table.RequireGrad();
        int saved = CpuParallel.Threads;
        try
        {
            CpuParallel.Threads = 1;
            var one = Grads();
            CpuParallel.Threads = 4;
            var four = Grads();
            for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], four[i]);
        }
        finally { CpuParallel.Threads = saved; }
    }

    // ---- values computed by hand ----

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void SoftmaxOfOneTwoThree(DType dtype)
    {
        foreach (var device in new[] { Device.Cpu, Device.CpuReference })
        {
            using var values = Tensor.FromArray(new double[] { 1, 2, 3 });
            using var xs = values.To(dtype).To(device);
            using var y = Ops.Softmax(xs);
            TestData.AssertClose([0.09003057, 0.24472847, 0.66524096], y.ToDoubleArray(), 1e-7, 0);
            using var ly = Ops.LogSoftmax(xs);
            TestData.AssertClose([Math.Log(0.09003057317038046), Math.Log(0.24472847105479764), Math.Log(0.6652409557748219)], ly.ToDoubleArray(), 1e-6, 0);
        }
    }

    [Fact]
    public void SoftmaxWithMinusInfinityGivesZeroProbability()
    {
        using var x = Tensor.FromArray(new float[] { 0, float.NegativeInfinity, 1 });
        using var y = Ops.Softmax(x);
        double e = Math.E;
        TestData.AssertClose([1 / (1 + e), 0, e / (1 + e)], y.ToDoubleArray(), 1e-7, 0);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void CrossEntropyOfOneRow(DType dtype)
    {
        foreach (var device in new[] { Device.Cpu, Device.CpuReference })
        {
            using var l64 = Tensor.FromArray(new double[,] { { 2, 1, 0.1 } });
            using var logits = l64.To(dtype).To(device);
            using var target = Ids([0], 1).To(device);
            using var loss = Ops.CrossEntropy(logits, target);
            Assert.Equal(0.4170300162778335, loss.Item(), dtype == DType.F32 ? 6 : 14);
            // Smoothing 0.1 over 3 classes: lse - 0.9 x_0 - (0.1 / 3) Σ x, with lse = x_0 + 0.41703...
            using var smooth = Ops.CrossEntropy(logits, target, labelSmoothing: 0.1);
            double lse = 2 + 0.4170300162778335;
            Assert.Equal(lse - 0.9 * 2 - 0.1 / 3 * 3.1, smooth.Item(), dtype == DType.F32 ? 6 : 14);
        }
    }

    [Fact]
    public void CrossEntropyMeanSkipsIgnoredRows()
    {
        using var logits = Tensor.FromArray(new double[,] { { 2, 1, 0.1 }, { 5, -3, 0 }, { 2, 1, 0.1 } });
        using var targets = Ids([0, -100, 0], 3);
        using var mean = Ops.CrossEntropy(logits, targets);
        Assert.Equal(0.4170300162778335, mean.Item(), 14);
        using var none = Ops.CrossEntropy(logits, targets, reduction: LossReduction.None);
        Assert.Equal(0.0, none.ToDoubleArray()[1]);
        using var allIgnored = Ops.CrossEntropy(logits, Ids([-100, -100, -100], 3));
        Assert.True(double.IsNaN(allIgnored.Item()));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.CrossEntropy(logits, Ids([0, 3, 1], 3)));
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void LayerNormOfOneToFour(DType dtype)
    {
        foreach (var device in new[] { Device.Cpu, Device.CpuReference })
        {
            using var values = Tensor.FromArray(new double[] { 1, 2, 3, 4 });
            using var x = values.To(dtype).To(device);
            using var y = Ops.LayerNorm(x, eps: 1e-5);
            TestData.AssertClose([-1.3416355, -0.4472118, 0.4472118, 1.3416355], y.ToDoubleArray(), 1e-6, 0);
            using var r = Ops.RmsNorm(x, eps: 1e-6);
            double rms = Math.Sqrt(7.5 + 1e-6);
            TestData.AssertClose([1 / rms, 2 / rms, 3 / rms, 4 / rms], r.ToDoubleArray(), 1e-6, 0);
        }
    }

    [Fact]
    public void EmbeddingPicksRowsAndSumsRepeatedGradients()
    {
        var w = Tensor.FromArray(new double[,] { { 1, 2 }, { 3, 4 }, { 5, 6 } }).RequireGrad();
        using var ids = Ids([2, 0, 2], 3);
        using var y = Ops.Embedding(w, ids);
        Assert.Equal(new double[] { 5, 6, 1, 2, 5, 6 }, y.ToArray<double>());
        using (var s = y.Sum()) s.Backward();
        Assert.Equal(new double[] { 1, 1, 0, 0, 2, 2 }, w.Grad!.ToArray<double>());
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Embedding(w, Ids([3], 1)));
    }

    [Fact]
    public void EmbeddingLooksUpABf16TableWithoutConverting()
    {
        using var w32 = TestData.Uniform(19, new Shape(7, 9), DType.F32);
        using var w16 = w32.To(DType.BF16);
        using var ids = Ids([6, 1, 1], 3);
        using var fast = Ops.Embedding(w16, ids);
        using var refTable = w16.To(Device.CpuReference);
        using var refIds = ids.To(Device.CpuReference);
        using var reference = Ops.Embedding(refTable, refIds);
        Assert.Equal(DType.BF16, fast.DType);
        Assert.Equal(reference.ToDoubleArray(), fast.ToDoubleArray());
    }

    [Theory]
    [InlineData(RopeStyle.Interleaved)]
    [InlineData(RopeStyle.RotateHalf)]
    public void RotaryAtPositionZeroIsTheIdentityAndKeepsNorms(RopeStyle style)
    {
        var (cos, sin) = Ops.RotaryTables(16, 32, dtype: DType.F64);
        using var x = TestData.Uniform(20, new Shape(3, 5, 16));
        using var first = Ops.ApplyRotary(x, cos, sin, 0, style);
        using var x0 = Ops.Select(x, 1, 0);
        using var y0 = Ops.Select(first, 1, 0);
        Assert.Equal(x0.ToDoubleArray(), y0.ToDoubleArray());   // cos 0 = 1, sin 0 = 0
        using var later = Ops.ApplyRotary(x, cos, sin, 11, style);
        using var nx = Ops.Sum(x * x, -1);
        using var ny = Ops.Sum(later * later, -1);
        TestData.AssertClose(nx.ToDoubleArray(), ny.ToDoubleArray(), 1e-12);
    }

    [Fact]
    public void RotateHalfIsInterleavedUpToAPermutationOfTheHeadDimension()
    {
        // Interleaved pair k is (2k, 2k+1); rotate-half pair k is (k, k + D/2). With perm[k] = 2k and
        // perm[k + D/2] = 2k + 1, x_half[j] = x_interleaved[perm[j]], and the rotations commute with it.
        const int d = 12;
        var perm = new int[d];
        for (int k = 0; k < d / 2; k++) { perm[k] = 2 * k; perm[k + d / 2] = 2 * k + 1; }
        var (cos, sin) = Ops.RotaryTables(d, 20, dtype: DType.F64);
        using var x = TestData.Uniform(21, new Shape(2, 6, d));
        var xi = x.ToArray<double>();
        var xh = new double[xi.Length];
        for (int r = 0; r < xi.Length / d; r++)
            for (int j = 0; j < d; j++) xh[r * d + j] = xi[r * d + perm[j]];
        using var xHalf = Tensor.FromArray(xh, 2, 6, d);
        foreach (var device in new[] { Device.Cpu, Device.CpuReference })
        {
            using var c = cos.To(device);
            using var s = sin.To(device);
            using var xa = x.To(device);
            using var xb = xHalf.To(device);
            using var yi = Ops.ApplyRotary(xa, c, s, 3, RopeStyle.Interleaved);
            using var yh = Ops.ApplyRotary(xb, c, s, 3, RopeStyle.RotateHalf);
            var a = yi.ToArray<double>();
            var b = yh.ToArray<double>();
            for (int r = 0; r < a.Length / d; r++)
                for (int j = 0; j < d; j++)
                    Assert.Equal(a[r * d + perm[j]], b[r * d + j], 14);
        }
    }
}
