using System.Runtime.CompilerServices;
using System.Text.Json;
using PeftEngine.Cpu;

namespace PeftEngine.Tests;

/// <summary>
/// The Golub–Kahan SVD kernel (blocked bidiagonalization, WY-formed Q and Pᵀ, bidiagonal QR with batched
/// rotations) on its own: reconstruction and orthogonality identities, agreement with the one-sided Jacobi
/// kernel (an independent algorithm) and with NumPy's singular values (Fixtures/svd_numpy.json, written by
/// Fixtures/make_svd_fixture.py), on rank-deficient, graded and repeated spectra.
/// </summary>
public unsafe class GolubKahanSvdTests
{
    private static readonly JsonElement Fixture = Load();

    private static JsonElement Load([CallerFilePath] string source = "")
    {
        var path = Path.Combine(Path.GetDirectoryName(source)!, "Fixtures", "svd_numpy.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    private sealed record Result(double[] U, double[] S, double[] Vh);

    private static Result Run(double[] a, int m, int n, bool jacobi = false)
    {
        int k = Math.Min(m, n);
        var u = new double[m * k];
        var s = new double[k];
        var vh = new double[k * n];
        fixed (double* pa = a, pu = u, ps = s, pv = vh)
        {
            if (jacobi) JacobiSvd.Decompose(pa, m, n, pu, ps, pv);
            else GolubKahanSvd.Decompose(pa, m, n, pu, ps, pv);
        }
        return new Result(u, s, vh);
    }

    private static double[] Random(int m, int n, int seed)
    {
        var rng = new System.Random(seed);
        return Enumerable.Range(0, m * n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
    }

    /// <summary>‖U·diag(S)·Vh - A‖_F / ‖A‖_F, max |UᵀU - I|, max |Vh·Vhᵀ - I|, and S descending and ≥ 0.</summary>
    private static void AssertIdentities(double[] a, int m, int n, Result r, double tol)
    {
        int k = Math.Min(m, n);
        double num = 0, den = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double acc = 0;
                for (int c = 0; c < k; c++) acc += r.U[i * k + c] * r.S[c] * r.Vh[c * n + j];
                num += (acc - a[i * n + j]) * (acc - a[i * n + j]);
                den += a[i * n + j] * a[i * n + j];
            }
        Assert.True(Math.Sqrt(num) <= tol * Math.Max(Math.Sqrt(den), 1e-300), $"reconstruction {Math.Sqrt(num / den):E2}");
        double worstU = 0, worstV = 0;
        for (int c = 0; c < k; c++)
            for (int d = 0; d < k; d++)
            {
                double uu = 0, vv = 0;
                for (int i = 0; i < m; i++) uu += r.U[i * k + c] * r.U[i * k + d];
                for (int j = 0; j < n; j++) vv += r.Vh[c * n + j] * r.Vh[d * n + j];
                worstU = Math.Max(worstU, Math.Abs(uu - (c == d ? 1 : 0)));
                worstV = Math.Max(worstV, Math.Abs(vv - (c == d ? 1 : 0)));
            }
        Assert.True(worstU <= tol, $"UᵀU - I: {worstU:E2}");
        Assert.True(worstV <= tol, $"Vh·Vhᵀ - I: {worstV:E2}");
        for (int c = 0; c < k; c++)
        {
            Assert.True(r.S[c] >= 0);
            if (c > 0) Assert.True(r.S[c] <= r.S[c - 1]);
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 5)]
    [InlineData(5, 9)]
    [InlineData(33, 33)]
    [InlineData(130, 97)]
    [InlineData(97, 130)]
    [InlineData(260, 200)]
    public void RandomMatricesSatisfyTheIdentitiesAndAgreeWithJacobi(int m, int n)
    {
        var a = Random(m, n, m * 1000 + n);
        var gk = Run(a, m, n);
        AssertIdentities(a, m, n, gk, 1e-12);
        var jac = Run(a, m, n, jacobi: true);
        for (int c = 0; c < gk.S.Length; c++) Assert.Equal(jac.S[c], gk.S[c], 1e-12 * jac.S[0]);
    }

    [Fact]
    public void ValuesOnlyEqualTheValuesOfTheFullDecomposition()
    {
        const int m = 150, n = 120;
        var a = Random(m, n, 3);
        var full = Run(a, m, n);
        var s = new double[n];
        fixed (double* pa = a, ps = s) GolubKahanSvd.Decompose(pa, m, n, null, ps, null);
        Assert.Equal(full.S, s);
    }

    [Fact]
    public void RankDeficientZeroAndRepeatedSpectra()
    {
        // rank 3 product of random factors
        const int m = 120, n = 100, r = 3;
        var b = Random(m, r, 1);
        var c = Random(r, n, 2);
        var a = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                for (int t = 0; t < r; t++) a[i * n + j] += b[i * r + t] * c[t * n + j];
        var res = Run(a, m, n);
        AssertIdentities(a, m, n, res, 1e-12);
        for (int t = r; t < n; t++) Assert.True(res.S[t] < 1e-12 * res.S[0], $"σ_{t} = {res.S[t]:E2}");

        var zero = new double[40 * 30];
        var z = Run(zero, 40, 30);
        Assert.All(z.S, v => Assert.Equal(0, v));
        AssertIdentities(Enumerable.Repeat(0.0, 40 * 30).Select((_, i) => i % 31 == 0 ? 1e-300 : 0).ToArray(), 40, 30,
            Run(Enumerable.Repeat(0.0, 40 * 30).Select((_, i) => i % 31 == 0 ? 1e-300 : 0).ToArray(), 40, 30), 1e-12);

        // identity (all singular values 1) and a repeated block: σ = 2 (x5), 1 (x5), 0 (x rest)
        var eye = new double[64 * 64];
        for (int i = 0; i < 64; i++) eye[i * 64 + i] = 1;
        var re = Run(eye, 64, 64);
        Assert.All(re.S, v => Assert.Equal(1, v, 1e-14));
        AssertIdentities(eye, 64, 64, re, 1e-13);
    }

    [Fact]
    public void GradedMatrixKeepsSmallSingularValues()
    {
        // columns scaled from 1 down to 1e-10: the small singular values are ~1e-10 of the largest
        const int m = 90, n = 80;
        var a = Random(m, n, 5);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) a[i * n + j] *= Math.Pow(10, -10.0 * j / (n - 1));
        var gk = Run(a, m, n);
        var jac = Run(a, m, n, jacobi: true);
        AssertIdentities(a, m, n, gk, 1e-12);
        // normwise accuracy: errors relative to σ_max, plus a few digits relative to each value
        for (int c = 0; c < n; c++) Assert.Equal(jac.S[c], gk.S[c], 1e-13 * jac.S[0] + 1e-6 * jac.S[c]);
    }

    private static double[] FixtureMatrix(string kind, int m, int n, int rank)
    {
        var a = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double Smooth() => Math.Sin(0.7 * i + 1.3 * j + 0.01 * i * j) + (i == j ? 0.5 : 0);
                double v = 0;
                switch (kind)
                {
                    case "smooth": v = Smooth(); break;
                    case "graded": v = Smooth() * Math.Pow(10.0, -6.0 * j / n); break;
                    case "lowrank":
                        for (int t = 0; t < rank; t++)
                            v += Math.Cos(0.3 * (t + 1) * i + 0.1 * t) * Math.Sin(0.17 * (t + 2) * j + 0.2);
                        break;
                }
                a[i * n + j] = v;
            }
        return a;
    }

    [Theory]
    [InlineData("smooth_200x150", "smooth", 200, 150, 0)]
    [InlineData("smooth_120x260", "smooth", 120, 260, 0)]
    [InlineData("smooth_301x301", "smooth", 301, 301, 0)]
    [InlineData("lowrank_180x160_r7", "lowrank", 180, 160, 7)]
    [InlineData("graded_160x128", "graded", 160, 128, 0)]
    public void SingularValuesMatchNumpy(string name, string kind, int m, int n, int rank)
    {
        var expected = Fixture.GetProperty(name).EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var a = FixtureMatrix(kind, m, n, rank);
        var res = Run(a, m, n);
        Assert.Equal(expected.Length, res.S.Length);
        for (int c = 0; c < expected.Length; c++)
            Assert.True(Math.Abs(expected[c] - res.S[c]) <= 1e-12 * expected[0] + 1e-10 * expected[c],
                $"{name} σ_{c}: numpy {expected[c]:R}, ours {res.S[c]:R}");
        AssertIdentities(a, m, n, res, 1e-12);
    }

    [Fact]
    public void LinalgSvdTakesThisPathForLargeMatricesAndMatchesTheReferenceBackend()
    {
        // min(m, n) ≥ GolubKahanSvd.MinSize: the fast backend runs Golub–Kahan, the reference backend plain Jacobi
        Assert.True(196 >= GolubKahanSvd.MinSize);
        using var a = TestData.Uniform(17, new Shape(230, 196), DType.F32);
        TestData.AssertMatchesReference(x => Linalg.SvdVals(x[0]), [a], 2e-5, 2e-5);
        using var svd = Linalg.Svd(a);
        using var s1 = Ops.Unsqueeze(svd.S, -1);
        using var svh = Ops.Mul(svd.Vh, s1);
        using var back = Ops.MatMul(svd.U, svh);
        TestData.AssertClose(a, back, 1e-5, 1e-4);
    }

    [Fact]
    public void RotationBatchAppliesRotationsInOrder()
    {
        // 5 rows of 37 (two full 16-wide strips and a tail); each rotation checked against a direct update
        const int rows = 5, len = 37;
        var w = Random(rows, len, 11);
        var expected = (double[])w.Clone();
        var ops = new (int J, double C, double S)[] { (0, 0.6, 0.8), (1, 0.8, -0.6), (2, 0, 1), (3, 0.28, 0.96), (1, -1, 0), (0, 0.96, 0.28) };
        foreach (var (j, c, s) in ops)
            for (int i = 0; i < len; i++)
            {
                double x = expected[j * len + i], y = expected[(j + 1) * len + i];
                expected[j * len + i] = c * x + s * y;
                expected[(j + 1) * len + i] = c * y - s * x;
            }
        fixed (double* pw = w)
        {
            var batch = new RotationBatch(pw, rows, len, capacity: 4);   // flushes once when full, once at the end
            foreach (var (j, c, s) in ops) batch.Add(j, c, s);
            batch.Flush();
        }
        for (int i = 0; i < w.Length; i++) Assert.Equal(expected[i], w[i], 1e-15);
    }
}
