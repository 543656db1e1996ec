using PeftEngine.IO.Safetensors;

namespace PeftEngine.Tests;

/// <summary>Paths to the BERT parity fixture written by Fixtures/bert/make_fixture.py (plain PyTorch).</summary>
internal static class BertFixture
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Fixtures", "bert");

    public static SafetensorsFile OpenExpected() => SafetensorsFile.Open(Path.Combine(Directory, "expected.safetensors"));

    /// <summary>A fresh temporary folder with the fixture's config and the given weights.</summary>
    public static string WriteTemp(IReadOnlyDictionary<string, Tensor> weights)
    {
        string dir = Path.Combine(Path.GetTempPath(), "bert-fixture-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(Directory, "config.json"), Path.Combine(dir, "config.json"));
        SafetensorsWriter.Save(Path.Combine(dir, "model.safetensors"), weights);
        return dir;
    }

    /// <summary>The fixture's weights, with each key passed through <paramref name="rename"/> (null drops it).</summary>
    public static Dictionary<string, Tensor> LoadWeights(Func<string, string?> rename)
    {
        var result = new Dictionary<string, Tensor>();
        using var file = SafetensorsFile.Open(Path.Combine(Directory, "model.safetensors"));
        foreach (var key in file.Keys)
            if (rename(key) is string name) result[name] = file.Load(key);
        return result;
    }

    /// <summary>Asserts that a gradient matches: relative tolerance <paramref name="rtol"/>, absolute tolerance a
    /// tenth of that times the largest reference entry (at least 1% of <paramref name="globalScale"/>, the largest
    /// reference gradient entry of the whole model). The key bias of self-attention has a gradient that is zero in
    /// exact arithmetic (softmax ignores a constant added to all scores of one query), so only its smallness is
    /// checked; every other reference gradient must be substantial, so the comparison cannot be empty.</summary>
    public static void AssertGradient(string name, Tensor want, Tensor? got, double rtol, double globalScale)
    {
        Assert.True(got is not null, $"{name}: no gradient");
        Assert.Equal(want.Shape, got!.Shape);
        var w = want.ToDoubleArray();
        double scale = w.Max(Math.Abs);
        if (!name.EndsWith("attention.self.key.bias", StringComparison.Ordinal))
            Assert.True(scale > 1e-6 * globalScale, $"{name}: the reference gradient is (nearly) zero, so the comparison would be empty");
        double atol = rtol * 0.1 * Math.Max(scale, 1e-2 * globalScale);
        TestData.AssertClose(w, got.ToDoubleArray(), atol: atol, rtol: rtol, what: "grad " + name);
    }

    /// <summary>The largest absolute entry over every reference tensor whose key starts with <paramref name="prefix"/>.</summary>
    public static double MaxAbs(IO.Safetensors.SafetensorsFile file, string prefix) =>
        file.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Max(k =>
        {
            using var t = file.Load(k);
            return t.ToDoubleArray().Max(Math.Abs);
        });
}
