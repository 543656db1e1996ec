namespace PeftEngine.Tests;

/// <summary>
/// Linear algebra and the FFT on the GPU device run the CPU backend's kernels on host copies (a host fallback), so
/// every result must equal the CPU backend's exactly: the copies and the f32 ↔ f64 casts around them are exact or
/// correctly rounded on both sides.
/// </summary>
public class LinalgFallbackTests
{
    /// <summary>Runs <paramref name="run"/> on the CPU backend and on the GPU device (inputs made by
    /// <see cref="TestData.Uniform"/> on each) and requires the same outputs, on the device that computed them.</summary>
    private static void Same(Func<Device, Tensor[]> run)
    {
        var cpu = run(Device.Cpu);
        var gpu = run(GpuParity.Device);
        Assert.Equal(cpu.Length, gpu.Length);
        for (int i = 0; i < cpu.Length; i++)
        {
            Assert.Equal(GpuParity.Device, gpu[i].Device);
            Assert.Equal(cpu[i].Shape, gpu[i].Shape);
            Assert.Equal(cpu[i].DType, gpu[i].DType);
            Assert.Equal(cpu[i].ToDoubleArray(), gpu[i].ToDoubleArray());
        }
        foreach (var t in cpu.Concat(gpu)) t.Dispose();
    }

    /// <summary>a · aᵀ + n·I for a uniform (batch, n, n), made on the host: symmetric positive definite.</summary>
    private static Tensor Spd(int seed, int batch, int n, Device device)
    {
        var rng = new Random(seed);
        var a = Enumerable.Range(0, batch * n * n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var s = new double[a.Length];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = i == j ? n : 0;
                    for (int k = 0; k < n; k++) sum += a[(b * n + i) * n + k] * a[(b * n + j) * n + k];
                    s[(b * n + i) * n + j] = sum;
                }
        using var host = Tensor.FromArray(s, batch, n, n);
        return host.To(device);
    }

    [Fact]
    public void SvdMatchesTheCpu() => Same(d =>
    {
        using var a = TestData.Uniform(1, new Shape(2, 5, 3), DType.F64, device: d);
        var r = Linalg.Svd(a);
        using var wide = TestData.Uniform(2, new Shape(6, 4), DType.F32, device: d);
        using var view = Ops.Transpose(wide, 0, 1);   // a strided (4, 6) input
        return [r.U, r.S, r.Vh, Linalg.SvdVals(view)];
    });

    [Fact]
    public void QrMatchesTheCpu() => Same(d =>
    {
        using var a = TestData.Uniform(3, new Shape(5, 3), DType.F64, device: d);
        var thin = Linalg.Qr(a);
        var full = Linalg.Qr(a, complete: true);
        return [thin.Q, thin.R, full.Q, full.R];
    });

    [Fact]
    public void EighAndCholeskyMatchTheCpu() => Same(d =>
    {
        using var spd = Spd(4, 2, 4, d);
        var e = Linalg.Eigh(spd);
        return [e.Eigenvalues, e.Eigenvectors, Linalg.Cholesky(spd)];
    });

    [Fact]
    public void CholeskyOfAnIndefiniteMatrixFailsOnTheDeviceToo()
    {
        using var a = Tensor.FromArray(new double[] { 1, 2, 2, 1 }, 2, 2).To(GpuParity.Device);
        var e = Assert.Throws<ArgumentException>(() => Linalg.Cholesky(a));
        Assert.Contains("pivot 1 is not positive", e.Message);
    }

    [Fact]
    public void LuFactorAndSolveMatchTheCpu() => Same(d =>
    {
        using var a = TestData.Uniform(5, new Shape(3, 4, 4), DType.F64, device: d);
        using var b = TestData.Uniform(6, new Shape(3, 4, 2), DType.F64, device: d);
        var f = Linalg.LuFactor(a);
        var x = Linalg.LuSolve(f, b);
        return [f.LU, f.Pivots, x];
    });

    [Fact]
    public void FftAndItsGradientMatchTheCpu() => Same(d =>
    {
        using var z = TestData.Uniform(7, new Shape(3, 7, 2), DType.F64, device: d);
        using var signal = TestData.Uniform(8, new Shape(2, 10), DType.F32, device: d);
        using var leaf = signal.Alias().RequireGrad();
        using var half = Spectral.Rfft(leaf);                                        // (2, 6, 2)
        using var w = TestData.Uniform(9, half.Shape, DType.F32, device: d);
        using (var prod = Ops.Mul(half, w))
        using (var loss = Ops.Sum(prod))
            loss.Backward();
        return [Spectral.Fft(z), Spectral.Ifft(z), half.Detach(), leaf.Grad!.Alias()];
    });
}
