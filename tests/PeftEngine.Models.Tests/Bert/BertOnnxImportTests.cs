using PeftEngine.IO.Onnx;
using PeftEngine.Models;

namespace PeftEngine.Tests;

/// <summary>The ONNX BERT importer on a synthetic torch.onnx-style graph built from the parity fixture's weights:
/// the anonymous MatMul weights must get their HF names by following the graph, be transposed, and give a model
/// whose outputs equal the PyTorch reference.</summary>
public class BertOnnxImportTests
{
    private static Dictionary<string, Tensor> FixtureWeights() =>
        BertFixture.LoadWeights(k => k.StartsWith("bert.", StringComparison.Ordinal) ? k[5..] : null);

    private static OnnxGraph BuildGraph(SyntheticBertOnnx builder)
    {
        var weights = FixtureWeights();
        try
        {
            return OnnxModelReader.Parse(builder.Build(weights, layers: 2, heads: 4, eps: 1e-12f), "synthetic.onnx").Graph;
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
    }

    [Fact]
    public void ImportedFolderLoadsAndMatchesPyTorch()
    {
        var graph = BuildGraph(new SyntheticBertOnnx());
        string dir = Path.Combine(Path.GetTempPath(), "bert-onnx-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var import = BertOnnxImporter.Convert(graph, "synthetic.onnx"))
            {
                Assert.Equal((16, 2, 4, 24, 40, 20, 2), (import.Config.HiddenSize, import.Config.NumHiddenLayers, import.Config.NumAttentionHeads,
                    import.Config.IntermediateSize, import.Config.VocabSize, import.Config.MaxPositionEmbeddings, import.Config.TypeVocabSize));
                Assert.Equal(1e-12, import.Config.LayerNormEps);
                Assert.Equal("gelu", import.Config.HiddenAct);
                Assert.Equal(12, import.Renamed.Count);   // 6 Linear weights per layer, 2 layers
                Assert.Equal(("901", "encoder.layer.0.attention.self.value.weight"), import.Renamed[0]);   // 900 went to the embeddings LayerNorm
                import.SaveHfFolder(dir, "[PAD]\n[UNK]\n"u8.ToArray());
            }
            Assert.True(File.Exists(Path.Combine(dir, "vocab.txt")));
            Assert.Empty(Directory.GetFiles(dir, "*.tmp"));

            using var expected = BertFixture.OpenExpected();
            using var ids = expected.Load("ids");
            using var mask = expected.Load("attention_mask");
            using var types = expected.Load("token_type_ids");
            using var wantHidden = expected.Load("last_hidden_state");
            using var wantPooled = expected.Load("pooled");
            using var model = BertModel.FromPretrained(dir);
            using var outputs = model.Forward(ids, mask, types);
            TestData.AssertClose(wantHidden.ToDoubleArray(), outputs.LastHiddenState.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "last_hidden_state");
            TestData.AssertClose(wantPooled.ToDoubleArray(), outputs.PooledOutput!.ToDoubleArray(), atol: 1e-6, rtol: 1e-5, what: "pooled");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void WithoutTheBiasLinkTheModulePathInTheNodeNameNamesTheWeight()
    {
        var graph = BuildGraph(new SyntheticBertOnnx
        {
            DropBiasLinkOfLayer1Value = true,
            Layer1ValueNodeName = "/encoder/layer.1/attention/self/value/MatMul",
        });
        using var import = BertOnnxImporter.Convert(graph, "synthetic.onnx");
        using var fixture = IO.Safetensors.SafetensorsFile.Open(Path.Combine(BertFixture.Directory, "model.safetensors"));
        using var want = fixture.Load("bert.encoder.layer.1.attention.self.value.weight");
        Assert.Equal(want.ToFloatArray(), import.Weights["encoder.layer.1.attention.self.value.weight"].ToFloatArray());
    }

    [Fact]
    public void AWeightThatCannotBeNamedIsAnErrorNamingTheNode()
    {
        var graph = BuildGraph(new SyntheticBertOnnx { DropBiasLinkOfLayer1Value = true, Layer1ValueNodeName = "MatMul_mystery" });
        var e = Assert.Throws<InvalidDataException>(() => BertOnnxImporter.Convert(graph, "synthetic.onnx"));
        Assert.Contains("MatMul_mystery", e.Message);
        Assert.Contains("cannot name", e.Message);
    }

    [Fact]
    public void AnUnsupportedActivationIsAnError()
    {
        var graph = BuildGraph(new SyntheticBertOnnx { OmitErf = true });
        var e = Assert.Throws<InvalidDataException>(() => BertOnnxImporter.Convert(graph, "synthetic.onnx"));
        Assert.Contains("Erf", e.Message);
    }
}
