using System.Text.Json;
using PeftEngine.IO.Safetensors;
using PeftEngine.Nn;
using PeftEngine.Quant;

namespace PeftEngine.Tests;

public class Bnb4BitCheckpointTests
{
    private static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "bnb", name);

    /// <summary>A module tree with the checkpoint's paths: model.layers.0.mlp.{up_proj, down_proj} and model.norm.</summary>
    private sealed class TinyDecoder : Module
    {
        public TinyDecoder(int upOut = 96)
        {
            var model = new Holder();
            var layers = new Holder();
            var layer = new Holder();
            var mlp = new Holder();
            mlp.Add("up_proj", new Linear(64, upOut, bias: false));
            mlp.Add("down_proj", new Linear(96, 64, bias: true));
            layer.Add("mlp", mlp);
            layers.Add("0", layer);
            model.Add("layers", layers);
            model.Add("norm", new RmsNorm(64));
            RegisterModule("model", model);
        }
    }

    private sealed class Holder : Module
    {
        public void Add(string name, Module m) => RegisterModule(name, m);
    }

    [Fact]
    public void LoadsPrequantizedWeightsAndReproducesTheReferenceOutputs()
    {
        using var model = new TinyDecoder();
        using var file = SafetensorsFile.Open(FixturePath("bnb4bit_model.safetensors"));
        var consumed = Bnb4BitLoader.ApplyTo(model, file, file.Path);
        Assert.DoesNotContain("model.norm.weight", consumed);
        Assert.Contains("model.layers.0.mlp.down_proj.bias", consumed);
        Assert.Equal(file.Keys.Count() - 1, consumed.Count);

        using var doc = JsonDocument.Parse(File.ReadAllText(FixturePath("bnb4bit_expected.json")));
        foreach (var layer in doc.RootElement.EnumerateObject())
        {
            var q = Assert.IsType<Linear4Bit>(model.GetSubmodule(layer.Name));
            int rows = layer.Value.GetProperty("rows").GetInt32(), cols = layer.Value.GetProperty("cols").GetInt32();
            var x = layer.Value.GetProperty("x").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            var expected = layer.Value.GetProperty("y").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            using var xt = Tensor.FromArray(x, 3, cols);
            using var y = q.Forward(xt);
            Assert.Equal(new Shape(3, rows), y.Shape);
            TestData.AssertClose(expected, y.ToDoubleArray(), 1e-5, 1e-5, layer.Name);
        }
        Assert.Equal(FourBitType.Nf4, ((Linear4Bit)model.GetSubmodule("model.layers.0.mlp.up_proj")).QuantType);
        Assert.True(((Linear4Bit)model.GetSubmodule("model.layers.0.mlp.up_proj")).Weight4Bit.IsDoubleQuantized);
    }

    [Fact]
    public void WrittenStateReadsBackToTheSameWeights()
    {
        using var model = new TinyDecoder();
        using var file = SafetensorsFile.Open(FixturePath("bnb4bit_model.safetensors"));
        Bnb4BitLoader.ApplyTo(model, file, file.Path);
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "model.safetensors");
        var tensors = new Dictionary<string, SafetensorsRawTensor>();
        foreach (var name in new[] { "model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj" })
        {
            var q = (Linear4Bit)model.GetSubmodule(name);
            foreach (var kv in Bnb4BitState.Write(name + ".weight", q.Weight4Bit, q.QuantType)) tensors[kv.Key] = kv.Value;
        }
        SafetensorsWriter.SaveRaw(path, tensors);
        using var written = SafetensorsFile.Open(path);
        foreach (var name in new[] { "model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj" })
        {
            var (w, _) = Bnb4BitState.Read(written, name + ".weight", path);
            using (w)
            using (var a = Ops.Dequantize4Bit(w))
            using (var b = ((Linear4Bit)model.GetSubmodule(name)).Dequantize())
                Assert.Equal(b.ToArray<float>(), a.ToArray<float>());
            // The packed bytes and scales are the checkpoint's own.
            Assert.Equal(file.RawBytes(name + ".weight").ToArray(), written.RawBytes(name + ".weight").ToArray());
            Assert.Equal(file.RawBytes(name + ".weight.absmax").ToArray(), written.RawBytes(name + ".weight.absmax").ToArray());
        }
    }

    [Fact]
    public void AShapeMismatchNamesTheKeyAndTheModule()
    {
        using var model = new TinyDecoder(upOut: 80);
        using var file = SafetensorsFile.Open(FixturePath("bnb4bit_model.safetensors"));
        var e = Assert.Throws<InvalidDataException>(() => Bnb4BitLoader.ApplyTo(model, file, file.Path));
        Assert.Contains("model.layers.0.mlp.up_proj.weight", e.Message);
        Assert.Contains("96x64", e.Message);
        Assert.Contains("80x64", e.Message);
    }

    private sealed class TempDirectory : IDisposable
    {
        public TempDirectory() => Directory.CreateDirectory(Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "peft-quant-" + Guid.NewGuid().ToString("N")));
        public string Path { get; }
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
