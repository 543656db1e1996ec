namespace PeftEngine.Tests;

/// <summary>The fused AdamW and SGD updates: hand-computed steps, fast vs reference over several steps, and the
/// checks of the in-place ops.</summary>
public class OptimKernelTests
{
    /// <summary>
    /// Two AdamW steps worked by hand, lr = 0.1, β1 = 0.9, β2 = 0.999, eps = 1e-8, weight decay = 0.1.
    /// Element 0 starts at p = 1 with gradients 0.5 then -1:
    ///   step 1: p = 1 · (1 - 0.1·0.1) = 0.99; m = 0.1·0.5 = 0.05; v = 0.001·0.25 = 0.00025;
    ///           m̂ = 0.05 / (1 - 0.9) = 0.5; v̂ = 0.00025 / (1 - 0.999) = 0.25; sqrt(v̂) = 0.5;
    ///           p = 0.99 - 0.1 · 0.5 / (0.5 + 1e-8) = 0.99 - 0.1 / (1 + 2e-8) ≈ 0.99 - 0.1 + 2e-9 = 0.890000002.
    ///   step 2: p = 0.890000002 · 0.99 = 0.88110000198; m = 0.9·0.05 + 0.1·(-1) = -0.055;
    ///           v = 0.999·0.00025 + 0.001·1 = 0.00124975;
    ///           m̂ = -0.055 / (1 - 0.81) = -0.055 / 0.19 = -0.289473684210526…;
    ///           v̂ = 0.00124975 / (1 - 0.998001) = 0.00124975 / 0.001999 = 0.625187593796898…;
    ///           sqrt(v̂) = 0.790688050875…; m̂ / (sqrt(v̂) + 1e-8) = -0.366103522…;
    ///           p = 0.88110000198 + 0.1 · 0.366103522… = 0.917710354220….
    /// Element 1 starts at p = -2 with zero gradients: m = v = 0, the update is 0 / (0 + eps) = 0, so only the
    /// decay acts: -2 · 0.99 = -1.98, then -1.98 · 0.99 = -1.9602.
    /// </summary>
    [Theory]
    [InlineData("cpu")]
    [InlineData("cpu-reference")]
    public void AdamWTwoStepsMatchHandComputedValues(string device)
    {
        var dev = device == "cpu" ? Device.Cpu : Device.CpuReference;
        using var p = On(Tensor.FromArray(new[] { 1.0, -2.0 }, 2), dev);
        using var m = On(Tensor.Zeros(new Shape(2), DType.F64), dev);
        using var v = On(Tensor.Zeros(new Shape(2), DType.F64), dev);
        using (var g1 = On(Tensor.FromArray(new[] { 0.5, 0.0 }, 2), dev))
            Ops.AdamWStepInPlace(p, g1, m, v, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 1);
        TestData.AssertClose([0.890000002, -1.98], p.ToDoubleArray(), atol: 1e-14, rtol: 0);
        TestData.AssertClose([0.05, 0.0], m.ToDoubleArray(), atol: 1e-15, rtol: 0);
        TestData.AssertClose([0.00025, 0.0], v.ToDoubleArray(), atol: 1e-15, rtol: 0);
        using (var g2 = On(Tensor.FromArray(new[] { -1.0, 0.0 }, 2), dev))
            Ops.AdamWStepInPlace(p, g2, m, v, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 2);
        TestData.AssertClose([0.917710354220, -1.9602], p.ToDoubleArray(), atol: 1e-11, rtol: 0);
        TestData.AssertClose([-0.055, 0.0], m.ToDoubleArray(), atol: 1e-15, rtol: 0);
        TestData.AssertClose([0.00124975, 0.0], v.ToDoubleArray(), atol: 1e-15, rtol: 0);
    }

    /// <summary>
    /// SGD by hand, lr = 0.5, momentum 0.9, weight decay 0.1, p = 2, gradients 1 then 1:
    /// step 1 (buffer initialised): g = 1 + 0.1·2 = 1.2; b = 1.2; p = 2 - 0.5·1.2 = 1.4.
    /// step 2: g = 1 + 0.1·1.4 = 1.14; b = 0.9·1.2 + 1.14 = 2.22; p = 1.4 - 0.5·2.22 = 0.29.
    /// With Nesterov each step moves by g + 0.9·b instead: step 1 p = 2 - 0.5·(1.2 + 0.9·1.2) = 2 - 1.14 = 0.86;
    /// step 2 g = 1 + 0.086 = 1.086, b = 1.08 + 1.086 = 2.166, p = 0.86 - 0.5·(1.086 + 1.9494) = -0.6577.
    /// </summary>
    [Theory]
    [InlineData("cpu", false, 0.29)]
    [InlineData("cpu-reference", false, 0.29)]
    [InlineData("cpu", true, -0.6577)]
    [InlineData("cpu-reference", true, -0.6577)]
    public void SgdMomentumMatchesHandComputedValues(string device, bool nesterov, double expected)
    {
        var dev = device == "cpu" ? Device.Cpu : Device.CpuReference;
        using var p = On(Tensor.FromArray(new[] { 2.0 }, 1), dev);
        using var b = On(Tensor.FromArray(new[] { 123.0 }, 1), dev);   // garbage: the first step ignores it
        using var g = On(Tensor.FromArray(new[] { 1.0 }, 1), dev);
        Ops.SgdStepInPlace(p, g, b, lr: 0.5, momentum: 0.9, nesterov: nesterov, weightDecay: 0.1, initializeBuffer: true);
        Ops.SgdStepInPlace(p, g, b, lr: 0.5, momentum: 0.9, nesterov: nesterov, weightDecay: 0.1);
        TestData.AssertClose([expected], p.ToDoubleArray(), atol: 1e-14, rtol: 0);
    }

    [Theory]
    [InlineData(DType.F32, 1, false)]
    [InlineData(DType.F32, 37, true)]
    [InlineData(DType.F32, 1013, false)]
    [InlineData(DType.F32, 50021, false)]   // several parallel chunks
    [InlineData(DType.F64, 7, false)]
    [InlineData(DType.F64, 50021, true)]
    public void AdamWMatchesReferenceOverSteps(DType dtype, int n, bool maximize)
    {
        var fast = State(dtype, n, Device.Cpu, 3);
        var reference = State(dtype, n, Device.CpuReference, 3);
        for (int step = 1; step <= 5; step++)
        {
            using var gf = TestData.Uniform(100 + step, new Shape(n), dtype, -2, 2);
            using var gr = gf.To(Device.CpuReference);
            Ops.AdamWStepInPlace(fast[0], gf, fast[1], fast[2], lr: 1e-2, beta1: 0.8, beta2: 0.95, eps: 1e-6,
                weightDecay: 0.05, step: step, maximize: maximize);
            Ops.AdamWStepInPlace(reference[0], gr, reference[1], reference[2], lr: 1e-2, beta1: 0.8, beta2: 0.95,
                eps: 1e-6, weightDecay: 0.05, step: step, maximize: maximize);
        }
        AssertStatesClose(reference, fast, dtype);
    }

    [Theory]
    [InlineData(DType.F32, 37, 0.0, 0.0, false)]
    [InlineData(DType.F32, 1013, 0.9, 0.1, false)]
    [InlineData(DType.F32, 50021, 0.9, 0.0, true)]
    [InlineData(DType.F64, 7, 0.5, 0.3, false)]
    [InlineData(DType.F64, 50021, 0.9, 0.0, true)]
    public void SgdMatchesReferenceOverSteps(DType dtype, int n, double momentum, double dampening, bool nesterov)
    {
        var fast = State(dtype, n, Device.Cpu, 2);
        var reference = State(dtype, n, Device.CpuReference, 2);
        for (int step = 1; step <= 4; step++)
        {
            using var gf = TestData.Uniform(200 + step, new Shape(n), dtype, -2, 2);
            using var gr = gf.To(Device.CpuReference);
            bool first = step == 1, maximize = step == 3;
            Ops.SgdStepInPlace(fast[0], gf, fast[1], 0.05, momentum, dampening, nesterov, 0.01, maximize, first);
            Ops.SgdStepInPlace(reference[0], gr, reference[1], 0.05, momentum, dampening, nesterov, 0.01, maximize, first);
        }
        AssertStatesClose(reference, fast, dtype);
    }

    [Fact]
    public void StridedParameterIsUpdatedThroughItsView()
    {
        // The same numbers as a contiguous (5, 3) parameter and as the transposed view of a (3, 5) one.
        using var flat = TestData.Uniform(1, new Shape(5, 3), DType.F32);
        using var baseT = Ops.Contiguous(Ops.Transpose(flat, 0, 1));   // (3, 5)
        using var view = Ops.Transpose(baseT, 0, 1);                    // (5, 3), strides (1, 5)
        using var grad = TestData.Uniform(2, new Shape(5, 3), DType.F32);
        using var m1 = Tensor.Zeros(new Shape(5, 3), DType.F32);
        using var v1 = Tensor.Zeros(new Shape(5, 3), DType.F32);
        using var m2 = Tensor.Zeros(new Shape(5, 3), DType.F32);
        using var v2 = Tensor.Zeros(new Shape(5, 3), DType.F32);
        int before = baseT.Storage.Version;
        Ops.AdamWStepInPlace(flat, grad, m1, v1, lr: 0.1);
        Ops.AdamWStepInPlace(view, grad, m2, v2, lr: 0.1);
        Assert.True(baseT.Storage.Version > before);
        TestData.AssertClose(flat.ToDoubleArray(), view.ToDoubleArray(), atol: 0, rtol: 0);
        TestData.AssertClose(m1.ToDoubleArray(), m2.ToDoubleArray(), atol: 0, rtol: 0);
    }

    [Fact]
    public void StepBumpsVersionsSoSavedTensorsFailLoudly()
    {
        using var w = TestData.Param(1, 4);
        using var x = TestData.Uniform(2, new Shape(4));
        using var y = Ops.Mul(w, x);                 // saves x (w needs grad) and w
        using var loss = Ops.Sum(y);
        using var m = Tensor.Zeros(new Shape(4), DType.F64);
        using var v = Tensor.Zeros(new Shape(4), DType.F64);
        using var g = Tensor.Ones(new Shape(4), DType.F64);
        int pv = w.Storage.Version, mv = m.Storage.Version, vv = v.Storage.Version;
        Ops.AdamWStepInPlace(w, g, m, v, lr: 0.1);   // a leaf: allowed with GradMode on
        Assert.Equal(pv + 1, w.Storage.Version);
        Assert.Equal(mv + 1, m.Storage.Version);
        Assert.Equal(vv + 1, v.Storage.Version);
        using var x2 = TestData.Param(3, 4);
        using var y2 = Ops.Mul(x2, w);               // saves w for x2's gradient
        Ops.SgdStepInPlace(w, g, null, lr: 0.1);
        Assert.ThrowsAny<InvalidOperationException>(() => Engine.Backward(Ops.Sum(y2)));
    }

    [Fact]
    public void ChecksArgumentsAndGraphSafety()
    {
        using var p = Tensor.Zeros(new Shape(3, 4), DType.F32);
        using var g = Tensor.Zeros(new Shape(3, 4), DType.F32);
        using var m = Tensor.Zeros(new Shape(3, 4), DType.F32);
        using var v = Tensor.Zeros(new Shape(3, 4), DType.F32);
        using var wrongShape = Tensor.Zeros(new Shape(4, 3), DType.F32);
        using var wrongDtype = Tensor.Zeros(new Shape(3, 4), DType.F64);
        using var ints = Tensor.Zeros(new Shape(3, 4), DType.I64);
        Assert.Throws<ArgumentException>(() => Ops.AdamWStepInPlace(p, wrongShape, m, v, 0.1));
        Assert.Throws<ArgumentException>(() => Ops.AdamWStepInPlace(p, g, m, wrongDtype, 0.1));
        Assert.Throws<ArgumentException>(() => Ops.AdamWStepInPlace(ints, ints, ints, ints, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.AdamWStepInPlace(p, g, m, v, 0.1, step: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.AdamWStepInPlace(p, g, m, v, 0.1, beta1: 1));
        Assert.Throws<ArgumentNullException>(() => Ops.SgdStepInPlace(p, g, null, 0.1, momentum: 0.9));
        Assert.Throws<ArgumentException>(() => Ops.SgdStepInPlace(p, g, m, 0.1, momentum: 0.9, dampening: 0.1, nesterov: true));

        // A non-leaf output of a recorded op must not be changed in place while GradMode is on.
        using var leaf = TestData.Param(1, 3, 4);
        using var nonLeaf = Ops.Mul(leaf, 2.0);
        using var g64 = Tensor.Zeros(new Shape(3, 4), DType.F64);
        Assert.Throws<InvalidOperationException>(() => Ops.SgdStepInPlace(nonLeaf, g64, null, 0.1));
        using (GradMode.Disable()) Ops.SgdStepInPlace(nonLeaf, g64, null, 0.1);
    }

    private static Tensor On(Tensor t, Device device)
    {
        using (t) return t.To(device);
    }

    /// <summary>A parameter (random) and <paramref name="count"/> - 1 zero state tensors on one device.</summary>
    private static Tensor[] State(DType dtype, int n, Device device, int count)
    {
        var result = new Tensor[count];
        result[0] = TestData.Uniform(7, new Shape(n), dtype, -1, 1, device);
        for (int i = 1; i < count; i++)
        {
            using var z = Tensor.Zeros(new Shape(n), dtype);
            result[i] = z.To(device);
        }
        return result;
    }

    private static void AssertStatesClose(Tensor[] reference, Tensor[] fast, DType dtype)
    {
        double atol = dtype == DType.F32 ? 2e-5 : 1e-12, rtol = dtype == DType.F32 ? 1e-4 : 1e-10;
        for (int i = 0; i < reference.Length; i++)
        {
            TestData.AssertClose(reference[i].ToDoubleArray(), fast[i].ToDoubleArray(), atol, rtol, $"tensor {i}");
            reference[i].Dispose();
            fast[i].Dispose();
        }
    }
}
