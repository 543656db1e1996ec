using PeftEngine.IO.Safetensors;
using PeftEngine.Nn;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Serialization;
using PeftEngine.Peft.Tuners;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>The HF PEFT file format: config fields, tensor keys, version-limited writing and load errors.</summary>
public class SerializationTests
{
    private static List<string> SavedKeys(PeftModel peft, string adapter = "default")
    {
        var dir = TempDir();
        try
        {
            peft.SavePretrained(dir, [adapter]);
            using var f = SafetensorsFile.Open(Path.Combine(adapter == "default" ? dir : Path.Combine(dir, adapter), "adapter_model.safetensors"));
            Assert.Equal("pt", f.Metadata["format"]);
            return f.Keys.Order(StringComparer.Ordinal).ToList();
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void TensorKeysAreThoseHfWrites()
    {
        using var gpt = PeftModel.Create(TestGpt2.Create(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("c_attn"), LayersToTransform = [0] });
        Assert.Equal(["base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight"], SavedKeys(gpt));

        using var dora = PeftModel.Create(new TestMlp(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("lin0"), UseDora = true, ModulesToSave = ["lin1"] });
        Assert.Equal([
            "base_model.model.lin0.lora_A.weight", "base_model.model.lin0.lora_B.weight", "base_model.model.lin0.lora_magnitude_vector",
            "base_model.model.lin1.bias", "base_model.model.lin1.weight"], SavedKeys(dora));

        using var emb = PeftModel.Create(new TestEmbModel(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("emb"), Bias = "all" });
        Assert.Equal([
            "base_model.model.emb.lora_embedding_A", "base_model.model.emb.lora_embedding_B",
            "base_model.model.lin0.bias", "base_model.model.lin1.bias"], SavedKeys(emb));
    }

    [Fact]
    public void AdapterNamesThatContainEachOtherSaveOnlyTheirOwnTensors()
    {
        using var peft = PeftModel.Create(new TestMlp(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("lin0") });
        foreach (var name in new[] { "default2", "other_default", "foodefault_bar", "efaul" })
            peft.AddAdapter(name, new LoraConfig { TargetModules = TargetModules.Of("lin0", "lin1") });
        Assert.Equal(2, SavedKeys(peft).Count);
        Assert.Equal(4, SavedKeys(peft, "foodefault_bar").Count);
    }

    [Fact]
    public void ConfigFileHasHfFieldsSortedAndLimitedToAPeftVersion()
    {
        var config = new LoraConfig
        {
            TargetModules = TargetModules.Of("q_proj", "v_proj"), R = 16, LoraAlpha = 32, LoraDropout = 0.05, TaskType = "CAUSAL_LM",
            BaseModelNameOrPath = "tiny",
        };
        string expected08 = """
        {
          "alpha_pattern": {},
          "auto_mapping": null,
          "base_model_name_or_path": "tiny",
          "bias": "none",
          "fan_in_fan_out": false,
          "inference_mode": true,
          "init_lora_weights": true,
          "layers_pattern": null,
          "layers_to_transform": null,
          "loftq_config": {},
          "lora_alpha": 32,
          "lora_dropout": 0.05,
          "megatron_config": null,
          "megatron_core": "megatron.core",
          "modules_to_save": null,
          "peft_type": "LORA",
          "r": 16,
          "rank_pattern": {},
          "revision": null,
          "target_modules": [
            "q_proj",
            "v_proj"
          ],
          "task_type": "CAUSAL_LM",
          "use_rslora": false
        }
        """;
        Assert.Equal(expected08, AdapterConfigJson.Write(config with { InferenceMode = true }, new Version(0, 8, 0)));
        var latest = AdapterConfigJson.Write(config);
        foreach (var key in new[] { "\"use_dora\": false", "\"exclude_modules\": null", "\"lora_bias\": false", "\"peft_version\": \"0.20.0\"", "\"use_qalora\": false" })
            Assert.Contains(key, latest);
        var back = (LoraConfig)AdapterConfigJson.Parse(latest);
        Assert.Equal((16, 32.0, 0.05, "CAUSAL_LM", true), (back.R, back.LoraAlpha, back.LoraDropout, back.TaskType, back.InferenceMode));
        Assert.Equal(config.TargetModules, back.TargetModules);
    }

    [Fact]
    public void ReadingAcceptsMinimalFilesWarnsOnUnknownKeysAndRejectsWhatItCannotHonour()
    {
        var minimal = (LoraConfig)AdapterConfigJson.Parse("{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"target_modules\":\"q.*\",\"task_type\":\"CAUSAL_LM\"}");
        Assert.Equal((4, 8.0, 0.0, "none", false), (minimal.R, minimal.LoraAlpha, minimal.LoraDropout, minimal.Bias, minimal.UseDora));
        Assert.Equal("q.*", minimal.TargetModules!.Pattern);

        using (var capture = PeftWarnings.Capture())
        {
            AdapterConfigJson.Parse("{\"peft_type\":\"LORA\",\"target_modules\":[\"q\"],\"brand_new_option\":3}");
            Assert.Contains(capture.Messages, m => m.Contains("'brand_new_option'"));
        }
        var unknownType = Assert.Throws<NotSupportedException>(() => AdapterConfigJson.Parse("{\"peft_type\":\"FROD\"}"));
        Assert.Contains("unknown peft_type \"FROD\"", unknownType.Message);
        Assert.Throws<InvalidDataException>(() => AdapterConfigJson.Parse("{\"r\":4}"));
        Assert.Throws<InvalidDataException>(() => AdapterConfigJson.Parse("{\"config\":{},\"version\":\"1\"}"));
        Assert.Contains("use_qalora", Assert.Throws<NotSupportedException>(() => AdapterConfigJson.Parse("{\"peft_type\":\"LORA\",\"use_qalora\":true}")).Message);
        Assert.Contains("init_lora_weights", Assert.Throws<NotSupportedException>(() => AdapterConfigJson.Parse("{\"peft_type\":\"LORA\",\"init_lora_weights\":\"olora\"}")).Message);
    }

    [Fact]
    public void LoadingOntoTheWrongModelOrWithWrongShapesFailsAndChangesNothing()
    {
        var dir = TempDir();
        try
        {
            using (var gpt = PeftModel.Create(TestGpt2.Create(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("c_attn"), R = 4 }))
                gpt.SavePretrained(dir);

            var mlp = new TestMlp(new Generator(1));
            var names = mlp.NamedParameters().Select(np => np.Name).ToList();
            Assert.Throws<ArgumentException>(() => PeftModel.FromPretrained(mlp, dir));
            Assert.Equal(names, mlp.NamedParameters().Select(np => np.Name).ToList());

            // a config whose rank disagrees with the tensors
            string configPath = Path.Combine(dir, "adapter_config.json");
            File.WriteAllText(configPath, File.ReadAllText(configPath).Replace("\"r\": 4", "\"r\": 2"));
            using var target = PeftModel.Create(TestGpt2.Create(new Generator(2)), new LoraConfig { TargetModules = TargetModules.Of("c_fc") });
            var before = target.NamedParameters().Select(np => np.Name).ToList();
            var e = Assert.Throws<InvalidDataException>(() => target.LoadAdapter(dir, "wrong"));
            Assert.Contains("size mismatch for base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", e.Message);
            Assert.Equal(before, target.NamedParameters().Select(np => np.Name).ToList());
            Assert.Single(target.PeftConfigs);

            File.WriteAllText(configPath, "{\"peft_type\": \"VBLORA\"}");
            var model = TestGpt2.Create(new Generator(3));
            Assert.Throws<NotSupportedException>(() => PeftModel.FromPretrained(model, dir));
            Assert.DoesNotContain(model.NamedModules(), nm => nm.Module is ITunerLayer);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void SelectedAdaptersAreTheOnlyOnesSaved()
    {
        var dir = TempDir();
        try
        {
            using var peft = PeftModel.Create(new TestMlp(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("lin0") });
            peft.AddAdapter("second", new LoraConfig { TargetModules = TargetModules.Of("lin1") });
            peft.SavePretrained(dir, ["default"]);
            Assert.False(Directory.Exists(Path.Combine(dir, "second")));
            peft.SavePretrained(dir);
            Assert.True(File.Exists(Path.Combine(dir, "second", "adapter_config.json")));
        }
        finally { Directory.Delete(dir, true); }
    }
}
