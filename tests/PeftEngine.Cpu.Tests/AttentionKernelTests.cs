using PeftEngine.Cpu;

namespace PeftEngine.Tests;

/// <summary>
/// Fused attention against the composite (matmul + softmax) oracle, forward and all three gradients; the fast
/// fused kernel against the reference kernel; determinism across thread counts; and memory that stays far below
/// one (T, S) matrix of scores.
/// </summary>
public class AttentionKernelTests
{
    /// <summary>Which additive mask a case adds.</summary>
    public enum MaskKind { None, Padding, RandomTS, RandomB1TS }

    /// <summary>The inputs of one case: q (B, H, T, D), k (B, Hkv, S, D), v (B, Hkv, S, Dv) and an optional mask.</summary>
    internal static Tensor[] Inputs(int seed, DType dtype, int b, int h, int hkv, int t, int s, int d, int dv, MaskKind mask)
    {
        var q = TestData.Uniform(seed, new Shape(b, h, t, d), dtype, -2, 2);
        var k = TestData.Uniform(seed + 1, new Shape(b, hkv, s, d), dtype, -2, 2);
        var v = TestData.Uniform(seed + 2, new Shape(b, hkv, s, dv), dtype);
        Tensor? m = mask switch
        {
            MaskKind.Padding => Padding(b, s, dtype),
            MaskKind.RandomTS => TestData.Uniform(seed + 3, new Shape(t, s), dtype),
            MaskKind.RandomB1TS => TestData.Uniform(seed + 3, new Shape(b, 1, t, s), dtype),
            _ => null,
        };
        return m is null ? [q, k, v] : [q, k, v, m];
    }

    /// <summary>A (B, 1, 1, S) padding mask hiding the last i + 1 keys of batch row i (at least one key stays).</summary>
    private static Tensor Padding(int b, int s, DType dtype)
    {
        var ones = new long[b * s];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < s; j++) ones[i * s + j] = j < Math.Max(1, s - 1 - i) ? 1 : 0;
        using var attn = Tensor.FromArray(ones, b, s);
        return Ops.PaddingMask(attn, dtype);
    }

    /// <summary>
    /// Runs attention on copies of the inputs on <paramref name="device"/>, back-propagates a fixed random weighting
    /// of the output, and returns the output followed by the gradients of q, k and v.
    /// </summary>
    internal static double[][] Run(Func<Tensor[], Tensor> f, Tensor[] inputs, Device device)
    {
        var xs = inputs.Select(t => t.To(device)).ToArray();
        for (int i = 0; i < 3; i++) xs[i].RequireGrad();
        try
        {
            using var y = f(xs);
            using var probe = TestData.Uniform(99, y.Shape, y.DType, device: device);
            using (var weighted = y * probe)
            using (var total = weighted.Sum())
                total.Backward();
            return [y.ToDoubleArray(), xs[0].Grad!.ToDoubleArray(), xs[1].Grad!.ToDoubleArray(), xs[2].Grad!.ToDoubleArray()];
        }
        finally
        {
            foreach (var t in xs) { t.ZeroGrad(); t.Dispose(); }
        }
    }

    private static void AssertAllClose(double[][] expected, double[][] actual, double atol, double rtol)
    {
        string[] names = ["output", "dq", "dk", "dv"];
        for (int i = 0; i < expected.Length; i++) TestData.AssertClose(expected[i], actual[i], atol, rtol, names[i]);
    }

    private static Func<Tensor[], Tensor> Fused(bool causal) =>
        x => Ops.ScaledDotProductAttention(x[0], x[1], x[2], x.Length > 3 ? x[3] : null, causal);

    private static Func<Tensor[], Tensor> Composite(bool causal) =>
        x => Ops.ScaledDotProductAttentionComposite(x[0], x[1], x[2], x.Length > 3 ? x[3] : null, causal);

    [Theory]
    [InlineData(2, 4, 4, 7, 7, 8, 8, false, MaskKind.None)]            // multi-head
    [InlineData(1, 4, 2, 65, 65, 64, 64, true, MaskKind.None)]         // grouped-query, causal, T = S
    [InlineData(2, 6, 1, 1, 130, 8, 8, true, MaskKind.None)]           // multi-query, one new token over a cache
    [InlineData(1, 4, 2, 7, 130, 80, 80, true, MaskKind.None)]         // causal with T < S, D = 80
    [InlineData(2, 4, 2, 65, 65, 16, 16, false, MaskKind.Padding)]     // padding mask (B, 1, 1, S)
    [InlineData(1, 2, 1, 130, 130, 80, 24, false, MaskKind.None)]      // Dv != D
    [InlineData(1, 2, 2, 33, 70, 8, 8, true, MaskKind.RandomTS)]       // arbitrary (T, S) mask plus causal
    [InlineData(2, 2, 1, 9, 65, 64, 64, false, MaskKind.RandomB1TS)]   // (B, 1, T, S) mask
    public void FusedMatchesCompositeInF64(int b, int h, int hkv, int t, int s, int d, int dv, bool causal, MaskKind mask)
    {
        var inputs = Inputs(1, DType.F64, b, h, hkv, t, s, d, dv, mask);
        AssertAllClose(Run(Composite(causal), inputs, Device.Cpu), Run(Fused(causal), inputs, Device.Cpu), 1e-11, 1e-9);
        foreach (var x in inputs) x.Dispose();
    }

    [Theory]
    [InlineData(2, 4, 4, 7, 7, 8, 8, false, MaskKind.None)]
    [InlineData(1, 4, 2, 65, 65, 64, 64, true, MaskKind.None)]
    [InlineData(2, 6, 1, 1, 130, 8, 8, true, MaskKind.None)]
    [InlineData(1, 4, 2, 7, 130, 80, 80, true, MaskKind.Padding)]
    [InlineData(1, 2, 1, 130, 130, 80, 24, false, MaskKind.RandomTS)]
    public void FusedMatchesCompositeInF32(int b, int h, int hkv, int t, int s, int d, int dv, bool causal, MaskKind mask)
    {
        var inputs = Inputs(2, DType.F32, b, h, hkv, t, s, d, dv, mask);
        AssertAllClose(Run(Composite(causal), inputs, Device.Cpu), Run(Fused(causal), inputs, Device.Cpu), 2e-5, 2e-4);
        foreach (var x in inputs) x.Dispose();
    }

    [Theory]
    [InlineData(DType.F32, false, MaskKind.Padding)]
    [InlineData(DType.F32, true, MaskKind.None)]
    [InlineData(DType.F64, true, MaskKind.RandomB1TS)]
    [InlineData(DType.F64, false, MaskKind.None)]
    public void FastKernelMatchesReferenceKernel(DType dtype, bool causal, MaskKind mask)
    {
        // 70 queries and 130 keys: partial tiles on both axes, and enough work for threads.
        var inputs = Inputs(3, dtype, 2, 4, 2, 70, 130, 24, 40, mask);
        double tol = dtype == DType.F32 ? 2e-5 : 1e-12;
        AssertAllClose(Run(Fused(causal), inputs, Device.CpuReference), Run(Fused(causal), inputs, Device.Cpu), tol, tol * 10);
        foreach (var x in inputs) x.Dispose();
    }

    [Fact]
    public void StridedInputsAndGqaAgreeWithTheReference()
    {
        // q, k and v arrive as (B, T, H, D) and are viewed as (B, H, T, D) without a copy.
        using var q = TestData.Uniform(20, new Shape(2, 40, 6, 32), DType.F32);
        using var k = TestData.Uniform(21, new Shape(2, 50, 2, 32), DType.F32);
        using var v = TestData.Uniform(22, new Shape(2, 50, 2, 32), DType.F32);
        TestData.AssertMatchesReference(x =>
        {
            using var qt = Ops.Transpose(x[0], 1, 2);
            using var kt = Ops.Transpose(x[1], 1, 2);
            using var vt = Ops.Transpose(x[2], 1, 2);
            return Ops.ScaledDotProductAttention(qt, kt, vt, isCausal: true);
        }, [q, k, v], atol: 2e-5);
    }

    [Fact]
    public void F64GradientsMatchFiniteDifferencesWithAMaskAndOddSizes()
    {
        var q = TestData.Param(30, 2, 4, 3, 5);
        var k = TestData.Param(31, 2, 2, 6, 5);
        var v = TestData.Param(32, 2, 2, 6, 3);
        using var mask = TestData.Uniform(33, new Shape(2, 1, 3, 6));
        TestData.AssertGradients(x => Ops.ScaledDotProductAttention(x[0], x[1], x[2], mask, isCausal: true, scale: 0.7), [q, k, v]);
    }

    [Fact]
    public void OnlyTheRequestedGradientsAreComputed()
    {
        var inputs = Inputs(40, DType.F64, 1, 2, 1, 5, 9, 8, 8, MaskKind.None);
        var expected = Run(Composite(false), inputs, Device.Cpu);
        inputs[1].RequireGrad();
        using (var y = Ops.ScaledDotProductAttention(inputs[0], inputs[1], inputs[2]))
        using (var probe = TestData.Uniform(99, y.Shape, y.DType))
        using (var weighted = y * probe)
        using (var total = weighted.Sum())
            total.Backward();
        Assert.Null(inputs[0].Grad);
        Assert.Null(inputs[2].Grad);
        TestData.AssertClose(expected[2], inputs[1].Grad!.ToDoubleArray(), 1e-11, 1e-9, "dk");
        inputs[1].ZeroGrad();
        foreach (var x in inputs) x.Dispose();
    }

    [Fact]
    public void MasksOfEveryLayoutMatchTheComposite()
    {
        var inputs = Inputs(45, DType.F64, 2, 2, 1, 6, 70, 8, 8, MaskKind.None);
        using var perQuery = TestData.Uniform(46, new Shape(6, 1));                   // constant along keys
        using var wide = TestData.Uniform(47, new Shape(2, 1, 70, 6));
        using var transposed = Ops.Transpose(wide, 2, 3);                               // (2, 1, 6, 70), key stride 6
        using var scalar = Tensor.FromArray(new double[] { 0.5 }, 1);
        foreach (var mask in new[] { perQuery, transposed, scalar })
        {
            var withMask = inputs.Append(mask).ToArray();
            AssertAllClose(Run(Composite(false), withMask, Device.Cpu), Run(Fused(false), withMask, Device.Cpu), 1e-11, 1e-9);
        }
        using var wideF32 = wide.To(DType.F32);   // a mask of another dtype is cast to q's
        using var wideF32T = Ops.Transpose(wideF32, 2, 3);
        using var castByOp = Ops.ScaledDotProductAttention(inputs[0], inputs[1], inputs[2], wideF32T);
        using var wideRounded = wideF32T.To(DType.F64);
        using var castFirst = Ops.ScaledDotProductAttention(inputs[0], inputs[1], inputs[2], wideRounded);
        TestData.AssertClose(castFirst, castByOp, 0, 0);
        foreach (var x in inputs) x.Dispose();
    }

    [Fact]
    public void AMaskThatNeedsAGradientGetsOne()
    {
        using var q = TestData.Uniform(48, new Shape(1, 2, 3, 4));
        using var k = TestData.Uniform(49, new Shape(1, 2, 5, 4));
        var mask = TestData.Param(50, 3, 5);
        using (var y = Ops.ScaledDotProductAttention(q, k, k, mask))
        using (var total = y.Sum())
            total.Backward();
        Assert.NotNull(mask.Grad);
        mask.ZeroGrad();
        TestData.AssertGradients(x => Ops.ScaledDotProductAttention(q, k, k, x[0]), [mask]);
        mask.Dispose();
    }

    [Theory]
    [InlineData(DType.F64)]
    [InlineData(DType.F32)]
    public void RowsWhoseFirstKeyTilesAreAllMaskedMatchTheComposite(DType dtype)
    {
        // Query row i hides keys [0, 20·i) with -inf: row 4 and later see nothing of the first key tile (64 keys),
        // rows 7 and 8 nothing of the second either, so a tile of rows mixes rows with and without visible keys.
        const int t = 9, s = 150;
        var hide = new double[t * s];
        for (int i = 0; i < t; i++)
            for (int j = 0; j < Math.Min(20 * i, s - 1); j++) hide[i * s + j] = double.NegativeInfinity;
        using var m64 = Tensor.FromArray(hide, t, s);
        using var mask = m64.To(dtype);
        var inputs = Inputs(80, dtype, 1, 2, 1, t, s, 24, 24, MaskKind.None).Append(mask).ToArray();
        var expected = Run(Composite(false), inputs, Device.Cpu);
        var actual = Run(Fused(false), inputs, Device.Cpu);
        double tol = dtype == DType.F64 ? 1e-10 : 2e-4;
        AssertAllClose(expected, actual, tol, tol);
        foreach (var x in inputs.Take(3)) x.Dispose();
    }

    [Fact]
    public void SingleKeyGivesItsValue()
    {
        // One key: every query's softmax is 1 on it, so the output is v for every query.
        using var q = TestData.Uniform(50, new Shape(1, 2, 3, 4));
        using var k = TestData.Uniform(51, new Shape(1, 1, 1, 4));
        using var v = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5 }, 1, 1, 1, 5);
        using var y = Ops.ScaledDotProductAttention(q, k, v);
        var expected = Enumerable.Repeat(new double[] { 1, 2, 3, 4, 5 }, 6).SelectMany(r => r).ToArray();
        TestData.AssertClose(expected, y.ToDoubleArray(), 0, 0);
    }

    [Fact]
    public void CausalNeedsNoMoreQueriesThanKeys()
    {
        using var q = TestData.Uniform(1, new Shape(1, 1, 5, 4));
        using var k = TestData.Uniform(2, new Shape(1, 1, 3, 4));
        var ex = Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttention(q, k, k, isCausal: true));
        Assert.Contains("causal", ex.Message);
    }
}

/// <summary>Thread-count determinism and memory of fused attention; runs alone (it changes the thread count and
/// reads the allocator's peak).</summary>
[Collection(nameof(ThreadCountCollection))]
public class AttentionKernelResourceTests
{
    /// <summary>Thread counts 1 and 2 run the single backward pass per (batch, key/value head) on these shapes,
    /// 3 and 16 the two finer passes for the first (two pairs only); every count must give the same bits.</summary>
    [Theory]
    [InlineData(DType.F32, 1, 4, 2, 200, true, AttentionKernelTests.MaskKind.Padding)]
    [InlineData(DType.F64, 1, 4, 2, 200, true, AttentionKernelTests.MaskKind.Padding)]
    [InlineData(DType.F32, 3, 4, 4, 97, false, AttentionKernelTests.MaskKind.RandomB1TS)]
    [InlineData(DType.F64, 1, 3, 1, 150, true, AttentionKernelTests.MaskKind.None)]
    public void ResultsAreTheSameBitsForAnyThreadCount(DType dtype, int b, int h, int hkv, int t, bool causal, AttentionKernelTests.MaskKind mask)
    {
        var inputs = AttentionKernelTests.Inputs(60, dtype, b, h, hkv, t, t, 64, 64, mask);
        Func<Tensor[], Tensor> f = x => Ops.ScaledDotProductAttention(x[0], x[1], x[2], x.Length > 3 ? x[3] : null, isCausal: causal);
        int saved = CpuParallel.Threads;
        try
        {
            CpuParallel.Threads = 1;
            var serial = AttentionKernelTests.Run(f, inputs, Device.Cpu);
            foreach (int threads in new[] { 2, 3, 16 })
            {
                CpuParallel.Threads = threads;
                var parallel = AttentionKernelTests.Run(f, inputs, Device.Cpu);
                for (int i = 0; i < serial.Length; i++) Assert.Equal(serial[i], parallel[i]);
            }
        }
        finally { CpuParallel.Threads = saved; }
        foreach (var x in inputs) x.Dispose();
    }

    [Fact]
    public void TheSinglePassIsChosenOnlyWhenPairsKeepTheThreadsBusy()
    {
        Assert.True(AttentionProblem<float>.HeadPassPays(1, 1));    // one thread: always
        Assert.True(AttentionProblem<float>.HeadPassPays(2, 2));
        Assert.True(AttentionProblem<float>.HeadPassPays(8, 2));
        Assert.True(AttentionProblem<float>.HeadPassPays(3, 2));    // 4 thread-rounds for 3 items: 20 <= 21
        Assert.False(AttentionProblem<float>.HeadPassPays(1, 2));   // a second thread would idle
        Assert.False(AttentionProblem<float>.HeadPassPays(2, 3));
        Assert.False(AttentionProblem<float>.HeadPassPays(2, 16));
        Assert.False(AttentionProblem<float>.HeadPassPays(9, 8));   // 16 thread-rounds for 9 items
    }

    /// <summary>Each backward scheme (the single pass with 1 thread, the two passes with 16 threads, as
    /// <see cref="TheSinglePassIsChosenOnlyWhenPairsKeepTheThreadsBusy"/> shows for these pair counts) against
    /// the composite: odd lengths, grouped-query heads, causal masking with T &lt; S, padding masks, few and many
    /// (batch, head) pairs.</summary>
    [Theory]
    [InlineData(1, 1, 2, 1, 67, 67, 32, 32, true, AttentionKernelTests.MaskKind.None)]
    [InlineData(16, 1, 2, 1, 67, 67, 32, 32, true, AttentionKernelTests.MaskKind.None)]
    [InlineData(1, 2, 6, 2, 33, 130, 16, 24, true, AttentionKernelTests.MaskKind.Padding)]
    [InlineData(16, 2, 6, 2, 33, 130, 16, 24, true, AttentionKernelTests.MaskKind.Padding)]
    [InlineData(1, 4, 4, 4, 45, 45, 8, 8, false, AttentionKernelTests.MaskKind.RandomTS)]
    [InlineData(16, 1, 4, 4, 45, 45, 8, 8, false, AttentionKernelTests.MaskKind.RandomB1TS)]
    public void EachBackwardSchemeMatchesTheComposite(int threads, int b, int h, int hkv, int t, int s, int d, int dv, bool causal, AttentionKernelTests.MaskKind mask)
    {
        var inputs = AttentionKernelTests.Inputs(61, DType.F64, b, h, hkv, t, s, d, dv, mask);
        Tensor? m(Tensor[] x) => x.Length > 3 ? x[3] : null;
        var expected = AttentionKernelTests.Run(x => Ops.ScaledDotProductAttentionComposite(x[0], x[1], x[2], m(x), causal), inputs, Device.Cpu);
        int saved = CpuParallel.Threads;
        try
        {
            CpuParallel.Threads = threads;
            var actual = AttentionKernelTests.Run(x => Ops.ScaledDotProductAttention(x[0], x[1], x[2], m(x), causal), inputs, Device.Cpu);
            string[] names = ["output", "dq", "dk", "dv"];
            for (int i = 0; i < expected.Length; i++) TestData.AssertClose(expected[i], actual[i], 1e-11, 1e-9, names[i]);
        }
        finally { CpuParallel.Threads = saved; }
        foreach (var x in inputs) x.Dispose();
    }

    [Fact]
    public void LongSequenceNeverHoldsTheScoreMatrix()
    {
        const int t = 2048, d = 64;
        var inputs = AttentionKernelTests.Inputs(70, DType.F32, 1, 1, 1, t, t, d, d, AttentionKernelTests.MaskKind.None);
        foreach (var x in inputs) x.RequireGrad();
        var allocator = HostAllocator.Shared;
        allocator.ResetPeak();
        long before = allocator.BytesInUse;
        using (var y = Ops.ScaledDotProductAttention(inputs[0], inputs[1], inputs[2], isCausal: true))
        using (var total = y.Sum())
            total.Backward();
        long extra = allocator.PeakBytesInUse - before;
        long scoreMatrix = (long)t * t * sizeof(float);   // 16 MiB
        // Output, logsumexp, gradients and a few (T, D) temporaries: about 3 MiB here.
        Assert.True(extra < scoreMatrix / 4, $"peak grew by {extra} bytes; one (T, S) score matrix is {scoreMatrix}");
        Assert.All(inputs[0].Grad!.ToDoubleArray(), g => Assert.True(double.IsFinite(g)));
        foreach (var x in inputs) { x.ZeroGrad(); x.Dispose(); }
    }
}
