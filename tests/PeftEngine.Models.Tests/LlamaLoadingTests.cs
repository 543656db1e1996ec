using System.Text.Json.Nodes;
using PeftEngine.IO.Safetensors;
using PeftEngine.Models;

namespace PeftEngine.Tests;

/// <summary>Loading LLaMA-family checkpoints: module names, dtype conversion, sharded files, AutoModel, and clear
/// errors for bad input.</summary>
public class LlamaLoadingTests
{
    [Fact]
    public void ModulePathsAreHfsAndEveryProjectionIsALinearChild()
    {
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory("llama"));
        var modules = model.NamedModules().ToDictionary(m => m.Name, m => m.Module);
        foreach (var name in new[] { "q_proj", "k_proj", "v_proj", "o_proj" })
            Assert.IsType<Nn.Linear>(modules[$"model.layers.1.self_attn.{name}"]);
        foreach (var name in new[] { "gate_proj", "up_proj", "down_proj" })
            Assert.IsType<Nn.Linear>(modules[$"model.layers.0.mlp.{name}"]);
        Assert.IsType<Nn.Linear>(modules["lm_head"]);
        Assert.IsType<Nn.RmsNorm>(modules["model.norm"]);
        Assert.IsType<Nn.RmsNorm>(modules["model.layers.0.input_layernorm"]);
        Assert.IsType<Nn.RmsNorm>(modules["model.layers.0.post_attention_layernorm"]);
        Assert.IsType<Nn.Embedding>(modules["model.embed_tokens"]);
    }

    [Fact]
    public void ATiedModelHasNoLmHeadParameterAndTheHeadReadsTheEmbedding()
    {
        using var model = LlamaModel.FromPretrained(LlamaFixture.Directory("qwen2"));
        Assert.DoesNotContain(model.NamedParameters(), p => p.Name.StartsWith("lm_head", StringComparison.Ordinal));
        Assert.Same(model.Transformer.EmbedTokens, model.GetSubmodule<TiedLmHead>("lm_head").TiedTo);
        Assert.Contains(model.NamedParameters(), p => p.Name == "model.layers.0.self_attn.q_proj.bias");
        Assert.DoesNotContain(model.NamedParameters(), p => p.Name == "model.layers.0.self_attn.o_proj.bias");
    }

    [Fact]
    public void Bf16AndShardedCheckpointsLoadToTheRoundedWeights()
    {
        string dir = LlamaFixture.CopyToTemp("llama");
        try
        {
            string weights = Path.Combine(dir, "model.safetensors");
            var shards = new[] { new Dictionary<string, Tensor>(), new Dictionary<string, Tensor>() };
            var map = new JsonObject();
            using (var file = SafetensorsFile.Open(weights))
            {
                int i = 0;
                foreach (var key in file.Keys)
                {
                    int s = i++ % 2;
                    shards[s][key] = file.Load(key, DType.BF16);
                    map[key] = $"model-0000{s + 1}-of-00002.safetensors";
                }
            }
            File.Delete(weights);
            for (int s = 0; s < 2; s++)
            {
                SafetensorsWriter.Save(Path.Combine(dir, $"model-0000{s + 1}-of-00002.safetensors"), shards[s]);
                foreach (var t in shards[s].Values) t.Dispose();
            }
            File.WriteAllText(Path.Combine(dir, ShardedSafetensors.IndexFileName), new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = map }.ToJsonString());

            using var original = LlamaModel.FromPretrained(LlamaFixture.Directory("llama"));
            using var rounded = LlamaModel.FromPretrained(dir);
            var want = original.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
            foreach (var (name, p) in rounded.NamedParameters())
            {
                Assert.Equal(DType.F32, p.DType);
                using var bf = Ops.Cast(want[name].Data, DType.BF16);
                using var back = Ops.Cast(bf, DType.F32);
                Assert.Equal(back.ToDoubleArray(), p.Data.ToDoubleArray());
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void AutoModelPicksTheClassFromModelTypeOrTheGgufArchitecture()
    {
        using (var gpt2 = (Gpt2Model)AutoModel.FromPretrained(Gpt2Fixture.Directory)) Assert.Equal(50, gpt2.VocabSize);
        foreach (var name in LlamaFixture.Cases)
        {
            var model = AutoModel.FromPretrained(LlamaFixture.Directory(name));
            using var _ = model.Module;
            Assert.Equal(name, Assert.IsType<LlamaModel>(model).Config.ModelType);
        }
        string path = Path.Combine(Path.GetTempPath(), $"auto-{Guid.NewGuid():N}.gguf");
        try
        {
            LlamaGgufTests.WriteGguf("qwen2", path);
            var model = AutoModel.FromPretrained(path);
            using var _ = model.Module;
            Assert.Equal("qwen2", Assert.IsType<LlamaModel>(model).Config.ModelType);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void BadCheckpointsAreReportedWithFileAndKey()
    {
        string dir = LlamaFixture.CopyToTemp("llama");
        try
        {
            string weights = Path.Combine(dir, "model.safetensors");
            string config = Path.Combine(dir, "config.json");
            var tensors = new Dictionary<string, Tensor>();
            using (var file = SafetensorsFile.Open(weights))
                foreach (var key in file.Keys) tensors[key] = file.Load(key);

            void Save(Action<Dictionary<string, Tensor>> change)
            {
                var copy = new Dictionary<string, Tensor>(tensors);
                change(copy);
                SafetensorsWriter.Save(weights, copy);
            }

            Save(d => d.Remove("model.layers.1.mlp.up_proj.weight"));
            var e = Assert.Throws<InvalidDataException>(() => LlamaModel.FromPretrained(dir));
            Assert.Contains("model.layers.1.mlp.up_proj.weight", e.Message);
            Assert.Contains(weights, e.Message);

            using var wrong = Tensor.Zeros(new Shape(40, 31));
            Save(d => d["model.layers.0.mlp.up_proj.weight"] = wrong);
            e = Assert.Throws<InvalidDataException>(() => LlamaModel.FromPretrained(dir));
            Assert.Contains("model.layers.0.mlp.up_proj.weight", e.Message);
            Assert.Contains("(40, 31)", e.Message);

            using var extra = Tensor.Zeros(new Shape(3));
            Save(d => d["model.layers.0.mlp.extra.weight"] = extra);
            e = Assert.Throws<InvalidDataException>(() => LlamaModel.FromPretrained(dir));
            Assert.Contains("model.layers.0.mlp.extra.weight", e.Message);

            Save(_ => { });
            string text = File.ReadAllText(config);
            File.WriteAllText(config, text.Replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"));
            e = Assert.Throws<InvalidDataException>(() => LlamaModel.FromPretrained(dir));
            Assert.Contains(config, e.Message);
            Assert.Contains("num_key_value_heads 3", e.Message);

            File.WriteAllText(config, text.Replace("\"llama\"", "\"falcon\""));
            e = Assert.Throws<InvalidDataException>(() => AutoModel.FromPretrained(dir));
            Assert.Contains("falcon", e.Message);
            Assert.Contains(config, e.Message);

            File.Delete(config);
            var missing = Assert.Throws<FileNotFoundException>(() => LlamaModel.FromPretrained(dir));
            Assert.Contains("config.json", missing.Message);
            foreach (var t in tensors.Values) t.Dispose();
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}

/// <summary>Which layers get a sliding attention window.</summary>
public class SlidingWindowTests
{
    [Fact]
    public void MistralWindowsEveryLayerAndQwen2OnlyFromMaxWindowLayersWhenEnabled()
    {
        var mistral = new IO.MistralConfig { SlidingWindow = 4096 };
        Assert.Equal(4096, LlamaDecoderLayer.SlidingWindowOf(mistral, 0));
        Assert.Null(LlamaDecoderLayer.SlidingWindowOf(mistral with { SlidingWindow = null }, 3));
        var qwen = new IO.Qwen2Config { UseSlidingWindow = true, SlidingWindow = 8, MaxWindowLayers = 2 };
        Assert.Null(LlamaDecoderLayer.SlidingWindowOf(qwen, 1));
        Assert.Equal(8, LlamaDecoderLayer.SlidingWindowOf(qwen, 2));
        Assert.Null(LlamaDecoderLayer.SlidingWindowOf(qwen with { UseSlidingWindow = false }, 2));
        Assert.Null(LlamaDecoderLayer.SlidingWindowOf(new IO.LlamaConfig(), 0));
    }

    [Fact]
    public void AWindowAsLongAsTheSequenceChangesNothingAndAShortOneDoes()
    {
        using var expected = LlamaFixture.OpenExpected("mistral");
        using var ids = expected.Load("ids");                                   // T = 7
        string dir = LlamaFixture.CopyToTemp("mistral");
        try
        {
            string config = Path.Combine(dir, "config.json");
            string text = File.ReadAllText(config);
            double[] Logits(int window)
            {
                File.WriteAllText(config, text.Replace("\"sliding_window\": 3", $"\"sliding_window\": {window}"));
                using var model = LlamaModel.FromPretrained(dir);
                using var logits = model.Forward(ids);
                return logits.ToDoubleArray();
            }
            var wide = Logits(7);
            var wider = Logits(64);
            var narrow = Logits(3);
            Assert.Equal(wider, wide);
            using var want = expected.Load("logits");
            TestData.AssertClose(want.ToDoubleArray(), narrow, atol: 1e-5, rtol: 1e-5, what: "window 3");
            Assert.True(wide.Zip(narrow).Max(p => Math.Abs(p.First - p.Second)) > 1e-3, "window 3 must differ from full attention over 7 positions");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
