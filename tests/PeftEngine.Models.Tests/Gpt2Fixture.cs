using PeftEngine.IO.Safetensors;

namespace PeftEngine.Tests;

/// <summary>Paths to the GPT-2 parity fixture written by Fixtures/gpt2/make_fixture.py (plain PyTorch).</summary>
internal static class Gpt2Fixture
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Fixtures", "gpt2");

    public static string ExpectedPath => Path.Combine(Directory, "expected.safetensors");

    public static SafetensorsFile OpenExpected() => SafetensorsFile.Open(ExpectedPath);

    /// <summary>Copies the fixture's config and weights into a fresh temporary folder the caller may alter.</summary>
    public static string CopyToTemp()
    {
        string dir = Path.Combine(Path.GetTempPath(), "gpt2-fixture-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        foreach (var name in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(Directory, name), Path.Combine(dir, name));
        return dir;
    }
}
