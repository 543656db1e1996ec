namespace PeftEngine.Tests;

/// <summary>Random test inputs and comparison helpers shared by the tests.</summary>
public static class TestData
{
    /// <summary>A tensor of uniform values in [lo, hi) from a seeded System.Random (independent of the engine's RNG).</summary>
    public static Tensor Uniform(int seed, Shape shape, DType dtype = DType.F64, double lo = -1, double hi = 1, Device? device = null)
    {
        var rng = new Random(seed);
        var v = new double[shape.Numel];
        for (int i = 0; i < v.Length; i++) v[i] = lo + (hi - lo) * rng.NextDouble();
        using var t = Tensor.FromArray(v, shape.ToArray());
        using var d = t.To(device ?? Device.Cpu);
        return dtype == DType.F64 ? d.Alias() : d.To(dtype);
    }

    /// <summary>A leaf that requires grad, for gradient checks.</summary>
    public static Tensor Param(int seed, params int[] shape) => Uniform(seed, new Shape(shape)).RequireGrad();

    /// <summary>Asserts two arrays agree elementwise within atol + rtol * |expected|.</summary>
    public static void AssertClose(double[] expected, double[] actual, double atol = 1e-6, double rtol = 1e-5, string? what = null)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (double.IsInfinity(e) && e == a) continue;
            double tol = atol + rtol * Math.Abs(e);
            Assert.True(Math.Abs(e - a) <= tol, $"{what ?? "value"}[{i}]: expected {e:G10}, got {a:G10} (tolerance {tol:E2})");
        }
    }

    /// <summary>Asserts two tensors have the same shape and values within tolerance.</summary>
    public static void AssertClose(Tensor expected, Tensor actual, double atol = 1e-6, double rtol = 1e-5)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        AssertClose(expected.ToDoubleArray(), actual.ToDoubleArray(), atol, rtol);
    }

    /// <summary>Runs a finite-difference gradient check and asserts the worst relative error is below tol.</summary>
    public static void AssertGradients(Func<Tensor[], Tensor> f, Tensor[] inputs, double tol = 1e-6)
    {
        var r = GradCheck.Run(f, inputs);
        Assert.True(r.MaxRelError < tol, r.ToString());
    }

    /// <summary>Runs f on the fast CPU backend and on the reference backend and compares the results.</summary>
    public static void AssertMatchesReference(Func<Tensor[], Tensor> f, Tensor[] inputs, double atol = 1e-5, double rtol = 1e-5)
    {
        using var fast = f(inputs);
        var refInputs = inputs.Select(t => t.To(Device.CpuReference)).ToArray();
        using var reference = f(refInputs);
        foreach (var t in refInputs) t.Dispose();
        Assert.Equal(reference.Shape, fast.Shape);
        AssertClose(reference.ToDoubleArray(), fast.ToDoubleArray(), atol, rtol);
    }
}
