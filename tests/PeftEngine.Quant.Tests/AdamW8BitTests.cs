using PeftEngine.IO.Safetensors;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;
using PeftEngine.Quant;
using Xunit.Abstractions;

namespace PeftEngine.Tests;

/// <summary>8-bit AdamW: the update and the quantized state against the formulas evaluated in f64 here, the state's
/// size, training against F32 AdamW, and saving / loading the state.</summary>
public class AdamW8BitTests(ITestOutputHelper output)
{
    private const double Lr = 0.01, B1 = 0.9, B2 = 0.999, Eps = 1e-8, Wd = 0.1;

    private static double[] Values(int seed, int n, double scale)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => scale * (2 * rng.NextDouble() - 1)).ToArray();
    }

    private static Parameter F32Param(double[] values) => new(Tensor.FromArray(values.Select(v => (float)v).ToArray(), values.Length));

    private static void SetGrad(Parameter p, double[] g)
    {
        p.ZeroGrad();
        p.Grad = Tensor.FromArray(g.Select(v => (float)v).ToArray(), g.Length);
    }

    /// <summary>The bitsandbytes step written out in f64: moments, then p ← (p − lr·m̂/(√v̂ + ε))·(1 − lr·wd).</summary>
    private static (double[] P, double[] M, double[] V) ExpectedStep(double[] p, double[] g, double[] m, double[] v, int t)
    {
        int n = p.Length;
        var (pn, mn, vn) = (new double[n], new double[n], new double[n]);
        double c1 = 1 - Math.Pow(B1, t), c2 = 1 - Math.Pow(B2, t);
        for (int i = 0; i < n; i++)
        {
            mn[i] = B1 * m[i] + (1 - B1) * g[i];
            vn[i] = B2 * v[i] + (1 - B2) * g[i] * g[i];
            pn[i] = (p[i] - Lr * (mn[i] / c1) / (Math.Sqrt(vn[i] / c2) + Eps)) * (1 - Lr * Wd);
        }
        return (pn, mn, vn);
    }

    /// <summary>Nearest entry of <paramref name="code"/> by a linear scan in f64 (a second implementation of the
    /// rounding), plus whether x lies within <paramref name="slack"/> of a midpoint (where the F32 moments, about 1e-5 off
    /// the f64 ones relatively, may round either way).</summary>
    private static (int Index, bool NearTie) NearestByScan(ReadOnlySpan<float> code, double x, double slack)
    {
        int best = 0;
        for (int i = 1; i < code.Length; i++)
            if (Math.Abs(code[i] - x) < Math.Abs(code[best] - x)) best = i;
        bool tie = false;
        foreach (int other in new[] { best - 1, best + 1 })
            if (other >= 0 && other < code.Length && Math.Abs(Math.Abs(code[other] - x) - Math.Abs(code[best] - x)) < slack) tie = true;
        return (best, tie);
    }

    /// <summary>Checks the quantized moments of one parameter: per block absmax = max|moment| and each code the
    /// nearest to moment / absmax (a negative first moment never gets a non-negative code). Returns the dequantized moments.</summary>
    private static (double[] M, double[] V) CheckQuantizedState(ParamState state, double[] m, double[] v, int block)
    {
        var c1 = state.Tensors["state1"].ToDoubleArray();
        var c2 = state.Tensors["state2"].ToDoubleArray();
        var a1 = state.Tensors["absmax1"].ToDoubleArray();
        var a2 = state.Tensors["absmax2"].ToDoubleArray();
        Assert.Equal((m.Length + block - 1) / block, a1.Length);
        var (dm, dv) = (new double[m.Length], new double[m.Length]);
        for (int b = 0; b < a1.Length; b++)
        {
            var range = Enumerable.Range(b * block, Math.Min(block, m.Length - b * block)).ToList();
            double max1 = range.Max(i => Math.Abs(m[i])), max2 = range.Max(i => Math.Abs(v[i]));
            // F32 arithmetic as in bitsandbytes: 1f - 0.999f is already 1.3e-5 off 0.001 relatively
            Assert.Equal(max1, a1[b], max1 * 5e-5);
            Assert.Equal(max2, a2[b], max2 * 5e-5);
            foreach (int i in range)
            {
                var (want1, tie1) = NearestByScan(DynamicMap.Values, m[i] / max1, 1e-4 * Math.Abs(m[i] / max1) + 1e-12);
                if (DynamicMap.Values[want1] >= 0 && m[i] < 0) want1--;   // keeps the sign
                var (want2, tie2) = NearestByScan(DynamicMap.UnsignedValues, v[i] / max2, 1e-4 * (v[i] / max2) + 1e-12);
                if (!tie1) Assert.Equal(want1, (int)c1[i]);
                else Assert.InRange((int)c1[i], want1 - 1, want1 + 1);
                if (!tie2) Assert.Equal(want2, (int)c2[i]);
                else Assert.InRange((int)c2[i], want2 - 1, want2 + 1);
                dm[i] = DynamicMap.Values[(int)c1[i]] * a1[b];
                dv[i] = DynamicMap.UnsignedValues[(int)c2[i]] * a2[b];
            }
        }
        return (dm, dv);
    }

    [Fact]
    public void UnsignedDynamicMapFollowsTheConstruction()
    {
        // create_dynamic_map(signed=False): for i = 0..6 the 2^(i+1) midpoints of linspace(0.1, 1, 2^(i+1) + 1),
        // times 10^(i-6); plus 0 and 1; sorted. Evaluated in f64 here.
        var want = new List<double> { 0, 1 };
        for (int i = 0; i < 7; i++)
        {
            int k = 1 << (i + 1);
            for (int j = 0; j < k; j++)
                want.Add(Math.Pow(10, i - 6) * (0.1 + 0.9 * (j + 0.5) / k));
        }
        want.Sort();
        var got = DynamicMap.UnsignedValues.ToArray();
        Assert.Equal(256, got.Length);
        TestData.AssertClose(want.ToArray(), got.Select(v => (double)v).ToArray(), atol: 1e-12, rtol: 1e-6);
        Assert.Equal(0f, got[0]);
        Assert.Equal(1f, got[255]);
        for (int i = 1; i < 256; i++) Assert.True(got[i] > got[i - 1]);
    }

    [Fact]
    public void TwoStepsOnBlocksEqualTheFormulas()
    {
        const int n = 5000, block = 2048;   // three blocks, the last one partial
        var p0 = Values(1, n, 1.0);
        using var p = F32Param(p0);
        using var opt = new AdamW8Bit([p], Lr, (B1, B2), Eps, Wd);
        Assert.Equal(block, opt.BlockSize);

        var g1 = Values(2, n, 0.5);
        SetGrad(p, g1);
        opt.Step();
        var (p1, m1, v1) = ExpectedStep(p0, g1, new double[n], new double[n], 1);
        TestData.AssertClose(p1, p.Data.ToDoubleArray(), atol: 1e-6, rtol: 1e-5);
        var state = opt.GetState(p)!;
        Assert.Equal(DType.U8, state.Tensors["state1"].DType);
        var (dm, dv) = CheckQuantizedState(state, m1, v1, block);
        var pAfter1 = p.Data.ToDoubleArray();

        // step 2 starts from the dequantized moments
        var g2 = Values(3, n, 0.5);
        SetGrad(p, g2);
        opt.Step();
        var (p2, m2, v2) = ExpectedStep(pAfter1, g2, dm, dv, 2);
        TestData.AssertClose(p2, p.Data.ToDoubleArray(), atol: 1e-5, rtol: 1e-4);
        CheckQuantizedState(state, m2, v2, block);
    }

    [Fact]
    public void SmallParametersKeepF32MomentsAndTheSameUpdate()
    {
        const int n = 100;
        var p0 = Values(4, n, 1.0);
        using var p = F32Param(p0);
        using var opt = new AdamW8Bit([p], Lr, (B1, B2), Eps, Wd);
        double[] pe = p0, m = new double[n], v = new double[n];
        for (int t = 1; t <= 3; t++)
        {
            var g = Values(10 + t, n, 0.3);
            SetGrad(p, g);
            opt.Step();
            (pe, m, v) = ExpectedStep(pe, g, m, v, t);
        }
        TestData.AssertClose(pe, p.Data.ToDoubleArray(), atol: 1e-6, rtol: 1e-5);
        var state = opt.GetState(p)!;
        Assert.Equal(DType.F32, state.Tensors["state1"].DType);
        TestData.AssertClose(m, state.Tensors["state1"].ToDoubleArray(), atol: 1e-7, rtol: 1e-5);
        TestData.AssertClose(v, state.Tensors["state2"].ToDoubleArray(), atol: 1e-9, rtol: 1e-5);
        Assert.False(state.Tensors.ContainsKey("absmax1"));
    }

    [Fact]
    public void StateTakesAboutTwoBytesPerParameter()
    {
        const int n = 1 << 16;
        using var p = F32Param(Values(5, n, 1.0));
        using var opt8 = new AdamW8Bit([p], Lr);
        SetGrad(p, Values(6, n, 0.1));
        opt8.Step();
        long bytes = opt8.GetState(p)!.Tensors.Values.Sum(t => t.Numel * t.DType.SizeOf());
        double perParameter = (double)bytes / n;
        output.WriteLine($"8-bit AdamW state: {bytes} bytes for {n} parameters = {perParameter:F4} bytes/parameter (F32 AdamW: 8)");
        Assert.InRange(perParameter, 2.0, 2.01);   // two codes + two F32 absmax per 2048 elements
    }

    [Fact]
    public void TrainsATinyModelAlmostAsWellAsF32AdamW()
    {
        // y = tanh(x W1ᵀ + b1) W2ᵀ + b2 fitted to a fixed random teacher; W1 (128 x 64) and W2 (32 x 128) get 8-bit state
        var losses = new Dictionary<string, (double First, double Last)>();
        foreach (string kind in new[] { "adamw", "adamw8bit" })
        {
            using var w1 = new Parameter(TestData.Uniform(20, new Shape(128, 64), DType.F32, -0.1, 0.1));
            using var b1 = new Parameter(Tensor.Zeros(new Shape(128)));
            using var w2 = new Parameter(TestData.Uniform(21, new Shape(32, 128), DType.F32, -0.1, 0.1));
            using var b2 = new Parameter(Tensor.Zeros(new Shape(32)));
            using var teacher = TestData.Uniform(22, new Shape(32, 64), DType.F32, -0.3, 0.3);
            Parameter[] ps = [w1, b1, w2, b2];
            using Optimizer opt = kind == "adamw" ? new AdamW(ps, lr: 3e-3) : new AdamW8Bit(ps, lr: 3e-3);
            double first = 0, last = 0;
            for (int step = 0; step < 150; step++)
            {
                using var scope = TensorScope.Begin();
                var x = TestData.Uniform(100 + step, new Shape(16, 64), DType.F32);
                var target = Ops.Linear(x, teacher);
                var h = Ops.Tanh(Ops.Linear(x, w1, b1));
                var loss = Ops.MseLoss(Ops.Linear(h, w2, b2), target);
                loss.Backward();
                opt.Step();
                opt.ZeroGrad();
                if (step < 5) first += loss.Item() / 5;
                if (step >= 145) last += loss.Item() / 5;
            }
            losses[kind] = (first, last);
        }
        var (f32, q8) = (losses["adamw"], losses["adamw8bit"]);
        output.WriteLine($"loss (mean of first / last 5 steps): F32 AdamW {f32.First:E3} -> {f32.Last:E3}, 8-bit AdamW {q8.First:E3} -> {q8.Last:E3}");
        Assert.True(q8.Last < 0.2 * q8.First, $"8-bit AdamW did not learn: {q8.First} -> {q8.Last}");
        Assert.True(q8.Last < 1.1 * f32.Last, $"8-bit AdamW ends at {q8.Last}, F32 AdamW at {f32.Last}");
    }

    [Fact]
    public void StateSurvivesASafetensorsRoundTrip()
    {
        const int n = 6000;
        var start = Values(7, n, 1.0);
        var small = Values(8, 10, 1.0);
        using var p = F32Param(start);
        using var q = F32Param(small);
        using var opt = new AdamW8Bit([p, q], Lr, weightDecay: Wd);
        for (int t = 0; t < 3; t++)
        {
            SetGrad(p, Values(30 + t, n, 0.2));
            SetGrad(q, Values(40 + t, 10, 0.2));
            opt.Step();
        }

        // save the state as a checkpoint does (safetensors, "{index}.{name}") and load it into a fresh optimizer
        string path = Path.Combine(Path.GetTempPath(), $"adamw8bit-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var dict = opt.StateDict())
            {
                var tensors = new Dictionary<string, Tensor>();
                foreach (var (index, s) in dict.State)
                    foreach (var (name, t) in s.Tensors) tensors[$"{index}.{name}"] = t;
                SafetensorsWriter.Save(path, tensors);
            }
            using var p2 = F32Param(p.Data.ToDoubleArray());
            using var q2 = F32Param(q.Data.ToDoubleArray());
            using var restored = new AdamW8Bit([p2, q2], Lr, weightDecay: Wd);
            using (var loaded = new OptimizerStateDict())
            using (var file = SafetensorsFile.Open(path))
            {
                loaded.Groups.Add((Lr, Wd, Lr, [0, 1]));
                loaded.State[0] = new ParamState { Step = 3 };
                loaded.State[1] = new ParamState { Step = 3 };
                foreach (string key in file.Keys) loaded.State[key[0] - '0'].Tensors[key[2..]] = file.Load(key);
                restored.LoadStateDict(loaded);
            }

            // one more identical step on both: bit-identical parameters and state
            foreach (var (a, b, seed) in new[] { (p, p2, 50), (q, q2, 51) })
            {
                var g = Values(seed, a.Shape[0], 0.2);
                SetGrad(a, g);
                SetGrad(b, g);
            }
            opt.Step();
            restored.Step();
            Assert.Equal(p.Data.ToFloatArray(), p2.Data.ToFloatArray());
            Assert.Equal(q.Data.ToFloatArray(), q2.Data.ToFloatArray());
            foreach (var name in new[] { "state1", "state2", "absmax1", "absmax2" })
                Assert.Equal(opt.GetState(p)!.Tensors[name].ToDoubleArray(), restored.GetState(p2)!.Tensors[name].ToDoubleArray());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void BadStateAndParametersAreRejectedWithClearErrors()
    {
        using var p = F32Param(Values(9, 5000, 1.0));
        using var opt = new AdamW8Bit([p]);
        using var dict = new OptimizerStateDict();
        dict.Groups.Add((1e-3, 0.01, 1e-3, [0]));
        dict.State[0] = new ParamState { Step = 1 };
        dict.State[0].Tensors["state1"] = Tensor.Zeros(new Shape(5000));   // F32 where U8 codes belong
        var e = Assert.Throws<ArgumentException>(() => opt.LoadStateDict(dict));
        Assert.Contains("state1", e.Message);
        Assert.Contains("u8", e.Message, StringComparison.OrdinalIgnoreCase);

        using var half = new Parameter(Tensor.Zeros(new Shape(10), DType.F64));
        var e2 = Assert.Throws<ArgumentException>(() => new AdamW8Bit([half]));
        Assert.Contains("F32", e2.Message);
    }
}
