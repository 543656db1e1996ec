using PeftEngine.IO.Safetensors;

namespace PeftEngine.Tests;

/// <summary>Paths to the LLaMA-family parity fixtures written by Fixtures/llama_family/make_fixtures.py
/// (plain PyTorch): "llama" (GQA, untied, llama3 rope scaling), "qwen2" (biases, tied, right padding) and
/// "mistral" (sliding window).</summary>
internal static class LlamaFixture
{
    public static readonly string[] Cases = ["llama", "qwen2", "mistral"];

    public static TheoryData<string> All => new(Cases);

    public static string Directory(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "llama_family", name);

    public static SafetensorsFile OpenExpected(string name) => SafetensorsFile.Open(Path.Combine(Directory(name), "expected.safetensors"));

    /// <summary>Copies a fixture's config and weights into a fresh temporary folder the caller may alter.</summary>
    public static string CopyToTemp(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), name + "-fixture-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        foreach (var file in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(Directory(name), file), Path.Combine(dir, file));
        return dir;
    }

    /// <summary>Values at the positions whose attention mask is 1 (B, T, V) -> the real rows, flattened.</summary>
    public static double[] RealPositions(double[] values, double[] mask, int vocab)
    {
        var kept = new List<double>();
        for (int p = 0; p < mask.Length; p++)
            if (mask[p] == 1) kept.AddRange(values.AsSpan(p * vocab, vocab).ToArray());
        return kept.ToArray();
    }
}
