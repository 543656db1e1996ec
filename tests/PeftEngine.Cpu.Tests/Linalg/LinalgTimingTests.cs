using System.Diagnostics;
using Xunit.Abstractions;

namespace PeftEngine.Tests;

/// <summary>
/// Large linear algebra problems at PEFT sizes, checked for accuracy, with their wall time written to the test
/// output (no timing assertions). Slow: excluded from the default run with --filter "Category!=Slow".
/// </summary>
[Trait("Category", "Slow")]
public class LinalgTimingTests(ITestOutputHelper output)
{
    private T Time<T>(string what, Func<T> f)
    {
        var sw = Stopwatch.StartNew();
        var r = f();
        output.WriteLine($"{what}: {sw.Elapsed.TotalSeconds:F2} s");
        return r;
    }

    /// <summary>Times an f64 GEMM of the same size (after a warm-up call), to read the other times against
    /// on a shared machine.</summary>
    private void Baseline(int n)
    {
        using var a = Tensor.Randn(new Shape(n, n), new Generator(9), DType.F64);
        using (Ops.MatMul(a, a)) { }
        using (Time($"  baseline: MatMul {n}x{n} f64 ({2.0 * n * n * n / 1e9:F1} GFLOP)", () => Ops.MatMul(a, a))) { }
    }

    private static double RelativeResidual(Tensor a, Tensor b)
    {
        using var d = Ops.Sub(a, b);
        using var dn = Ops.Square(d);
        using var an = Ops.Square(a);
        using var num = Ops.Sum(dn);
        using var den = Ops.Sum(an);
        return Math.Sqrt(num.Item() / den.Item());
    }

    [Theory]
    [InlineData(256)]
    [InlineData(1024)]
    [InlineData(2048)]
    [InlineData(4096)]
    public void SquareSvd(int n)
    {
        using var a = Tensor.Randn(new Shape(n, n), new Generator(1));
        Baseline(n);
        using var svd = Time($"Svd {n}x{n} f32", () => Linalg.Svd(a));
        using var s1 = Ops.Unsqueeze(svd.S, -1);
        using var svh = Ops.Mul(svd.Vh, s1);
        using var back = Ops.MatMul(svd.U, svh);
        double err = RelativeResidual(a, back);
        output.WriteLine($"  relative reconstruction error {err:E2}");
        Assert.True(err < 1e-5);
    }

    [Fact]
    public void QrSolveAndRandomizedSvdAtHiddenSize()
    {
        const int n = 1024;
        Baseline(n);
        using var a = Tensor.Randn(new Shape(n, n), new Generator(2));
        using (var qr = Time($"Qr {n}x{n} f32", () => Linalg.Qr(a)))
        using (var back = Ops.MatMul(qr.Q, qr.R))
            Assert.True(RelativeResidual(a, back) < 1e-5);
        using var b = Tensor.Randn(new Shape(n, 16), new Generator(3));
        using (var x = Time($"Solve {n}x{n} with 16 right-hand sides f32", () => Linalg.Solve(a, b)))
        using (var ax = Ops.MatMul(a, x))
            Assert.True(RelativeResidual(b, ax) < 1e-3);
        using var w = Tensor.Randn(new Shape(4096, 4096), new Generator(4));
        using var r = Time("RandomizedSvd 4096x4096 rank 16 (q 10, niter 2) f32", () => Linalg.RandomizedSvd(w, 16));
        Assert.Equal(new Shape(16), r.S.Shape);
    }

    [Fact]
    public void Fft2Of4096Squared()
    {
        Baseline(1024);
        using var x = Tensor.Randn(new Shape(4096, 4096, 2), new Generator(5));
        using (var warm = Tensor.Randn(new Shape(64, 64, 2), new Generator(6)))
        using (Spectral.Fft2(warm)) { }
        using var f = Time("Fft2 4096x4096 complex f32", () => Spectral.Fft2(x));
        using var back = Time("Ifft2 4096x4096 complex f32", () => Spectral.Ifft2(f));
        Assert.True(RelativeResidual(x, back) < 1e-6);
    }
}
