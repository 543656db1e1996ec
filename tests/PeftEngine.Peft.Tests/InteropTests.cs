using PeftEngine.IO.Safetensors;
using PeftEngine.Models;
using PeftEngine.Peft;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>
/// Adapter files written exactly as HF PEFT 0.20 writes them (Fixtures/gpt2_lora/make_fixture.py) load onto our GPT-2
/// and give the logits that plain PyTorch math computes; what we save back is the same files.
/// </summary>
public class InteropTests
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "gpt2_lora");

    private static (Tensor Ids, double[] Base, double[] Lora, double[] Dora) Expected()
    {
        using var f = SafetensorsFile.Open(Path.Combine(Root, "expected.safetensors"));
        using var b = f.Load("logits.base");
        using var l = f.Load("logits.lora");
        using var d = f.Load("logits.dora");
        return (f.Load("ids"), b.ToDoubleArray(), l.ToDoubleArray(), d.ToDoubleArray());
    }

    [Fact]
    public void HfLoraAndDoraAdaptersGiveTheReferenceLogits()
    {
        var (ids, expBase, expLora, expDora) = Expected();
        using (ids)
        {
            var model = Gpt2Model.FromPretrained(Path.Combine(Root, "base"));
            TestData.AssertClose(expBase, Run(model, ids), 1e-4, 1e-4, "base logits");
            using var peft = PeftModel.FromPretrained(model, Path.Combine(Root, "adapter"));
            TestData.AssertClose(expLora, Run(peft, ids), 1e-4, 1e-4, "LoRA logits");
            peft.LoadAdapter(Path.Combine(Root, "adapter", "dora"), "dora");
            peft.SetAdapter("dora");
            TestData.AssertClose(expDora, Run(peft, ids), 1e-4, 1e-4, "DoRA logits");
            peft.MergeAdapter();
            TestData.AssertClose(expDora, Run(peft, ids), 1e-4, 1e-4, "merged DoRA logits");
            peft.UnmergeAdapter();
            using (peft.DisableAdapter()) TestData.AssertClose(expBase, Run(peft, ids), 1e-4, 1e-4, "disabled");
        }
    }

    [Fact]
    public void WhatWeSaveIsTheFilesHfWrote()
    {
        var model = Gpt2Model.FromPretrained(Path.Combine(Root, "base"));
        using var peft = PeftModel.FromPretrained(model, Path.Combine(Root, "adapter"), "any-name");
        peft.LoadAdapter(Path.Combine(Root, "adapter", "dora"), "dora");
        var dir = TempDir();
        try
        {
            // saved under the names "any-name" and "dora": both go to subfolders, the keys carry no adapter name
            peft.SavePretrained(dir);
            foreach (var (ours, theirs) in new[] { ("any-name", ""), ("dora", "dora") })
            {
                string mine = Path.Combine(dir, ours), hf = Path.Combine(Root, "adapter", theirs);
                Assert.Equal(File.ReadAllText(Path.Combine(hf, "adapter_config.json")), File.ReadAllText(Path.Combine(mine, "adapter_config.json")));
                using var a = SafetensorsFile.Open(Path.Combine(hf, "adapter_model.safetensors"));
                using var b = SafetensorsFile.Open(Path.Combine(mine, "adapter_model.safetensors"));
                Assert.Equal(a.Keys.Order(StringComparer.Ordinal), b.Keys.Order(StringComparer.Ordinal));
                foreach (var k in a.Keys)
                {
                    Assert.Equal(a.Info(k).Shape, b.Info(k).Shape);
                    Assert.True(a.RawBytes(k).SequenceEqual(b.RawBytes(k)), $"{k}: bytes differ");
                }
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void HfLoraAdapterOnTinyLlamaGivesTheReferenceLogitsAndSavesBackIdentically()
    {
        string root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "llama_lora");
        using var f = SafetensorsFile.Open(Path.Combine(root, "expected.safetensors"));
        using var ids = f.Load("ids");
        using var expBase = f.Load("logits.base");
        using var expLora = f.Load("logits.lora");
        var model = LlamaModel.FromPretrained(Path.Combine(root, "base"));
        TestData.AssertClose(expBase.ToDoubleArray(), Run(model, ids), 1e-4, 1e-4, "base logits");
        using var peft = PeftModel.FromPretrained(model, Path.Combine(root, "adapter"));
        Assert.Equal(6, peft.TunerLayers().Count());
        TestData.AssertClose(expLora.ToDoubleArray(), Run(peft, ids), 1e-4, 1e-4, "LoRA logits");
        var dir = TempDir();
        try
        {
            peft.SavePretrained(dir);
            Assert.Equal(File.ReadAllText(Path.Combine(root, "adapter", "adapter_config.json")), File.ReadAllText(Path.Combine(dir, "adapter_config.json")));
            using var a = SafetensorsFile.Open(Path.Combine(root, "adapter", "adapter_model.safetensors"));
            using var b = SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors"));
            Assert.Equal(a.Keys.Order(StringComparer.Ordinal), b.Keys.Order(StringComparer.Ordinal));
            Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", b.Keys);
            foreach (var k in a.Keys) Assert.True(a.RawBytes(k).SequenceEqual(b.RawBytes(k)), $"{k}: bytes differ");
        }
        finally { Directory.Delete(dir, true); }
        using var merged = peft.MergeAndUnload();
        TestData.AssertClose(expLora.ToDoubleArray(), Run(merged, ids), 1e-4, 1e-4, "merged and unloaded");
    }
}
