using System.Runtime.CompilerServices;
using System.Text.Json;

namespace PeftEngine.Tests;

/// <summary>
/// Agreement with NumPy (and torch for matrix_exp) on the values in Fixtures/linalg_numpy.json, written by
/// Fixtures/make_linalg_fixture.py. Only sign-free results are compared. The fixture is read from beside this
/// source file.
/// </summary>
public class NumpyFixtureTests
{
    private static readonly JsonElement Root = Load();

    private static JsonElement Load([CallerFilePath] string source = "")
    {
        var path = Path.Combine(Path.GetDirectoryName(source)!, "Fixtures", "linalg_numpy.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    /// <summary>The named entry as an f64 tensor (nested JSON lists give the shape).</summary>
    private static Tensor Get(string name)
    {
        var values = new List<double>();
        var shape = new List<int>();
        void Walk(JsonElement e, int depth)
        {
            if (e.ValueKind == JsonValueKind.Array)
            {
                if (shape.Count == depth) shape.Add(e.GetArrayLength());
                foreach (var c in e.EnumerateArray()) Walk(c, depth + 1);
            }
            else values.Add(e.GetDouble());
        }
        Walk(Root.GetProperty(name), 0);
        return Tensor.FromArray(values.ToArray(), shape.ToArray());
    }

    private static void AssertMatches(string name, Tensor actual, double atol = 1e-10, double rtol = 1e-9)
    {
        using var expected = Get(name);
        TestData.AssertClose(expected, actual, atol, rtol);
    }

    [Fact]
    public void SingularValuesMatchNumpy()
    {
        foreach (var name in new[] { "svd", "svd_wide", "svd_ill" })
        {
            using var a = Get(name + "_input");
            using var s = Linalg.SvdVals(a);
            AssertMatches(name + "_values", s, 1e-13, 1e-9);
            using var a32 = a.To(DType.F32);
            using var s32 = Linalg.SvdVals(a32);
            AssertMatches(name + "_values", s32, 1e-5, 1e-5);
        }
    }

    [Fact]
    public void EigenvaluesMatchNumpy()
    {
        using var a = Get("eigh_input");
        using var e = Linalg.Eigh(a);
        AssertMatches("eigh_values", e.Eigenvalues, 1e-12);
    }

    [Fact]
    public void SolvesAndDeterminantsMatchNumpy()
    {
        using var a = Get("square_input");
        using var b = Get("rhs");
        using var x = Linalg.Solve(a, b);
        AssertMatches("solve", x);
        using var inv = Linalg.Inverse(a);
        AssertMatches("inverse", inv);
        using var sd = Linalg.SlogDet(a);
        using var expected = Get("slogdet");
        var e = expected.ToArray<double>();
        Assert.Equal(e[0], sd.Sign.Item());
        Assert.Equal(e[1], sd.LogAbsDet.Item(), 12);
        using var det = Linalg.Det(a);
        Assert.Equal(Root.GetProperty("det").GetDouble(), det.Item(), 12);
    }

    [Fact]
    public void CholeskyPinvAndExpmMatch()
    {
        using var spd = Get("spd_input");
        using var l = Linalg.Cholesky(spd);
        AssertMatches("cholesky", l);
        using var a = Get("pinv_input");
        using var p = Linalg.PseudoInverse(a);
        AssertMatches("pinv", p);
        using var m = Get("expm_input");
        using var e = Linalg.MatrixExp(m);
        AssertMatches("expm", e, 1e-12, 1e-12);
    }

    [Fact]
    public void TransformsMatchNumpy()
    {
        foreach (int n in new[] { 12, 16 })
        {
            using var z = Get($"fft{n}_input");
            using var f = Spectral.Fft(z);
            AssertMatches($"fft{n}", f, 1e-13);
        }
        using var r = Get("rfft_input");
        using var rf = Spectral.Rfft(r);
        AssertMatches("rfft", rf, 1e-13);
        using var z2 = Get("ifft2_input");
        using var f2 = Spectral.Ifft2(z2);
        AssertMatches("ifft2", f2, 1e-14);
    }
}
