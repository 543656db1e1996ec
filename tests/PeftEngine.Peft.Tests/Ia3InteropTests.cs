using PeftEngine.IO.Safetensors;
using PeftEngine.Models;
using PeftEngine.Peft;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>
/// IA3 and LN tuning files in HF PEFT's layout (Fixtures/gpt2_ia3/make_fixture.py, on the gpt2_lora base) load onto
/// our GPT-2 and give the logits plain PyTorch math computes; saving writes the same files back.
/// </summary>
public class Ia3InteropTests
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "gpt2_ia3");
    private static readonly string BaseDir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "gpt2_lora", "base");

    [Fact]
    public void HfIa3AndLnTuningAdaptersGiveTheReferenceLogits()
    {
        using var f = SafetensorsFile.Open(Path.Combine(Root, "expected.safetensors"));
        using var ids = f.Load("ids");
        using var expBase = f.Load("logits.base");
        using var expIa3 = f.Load("logits.ia3");
        using var expLn = f.Load("logits.ln");
        var model = Gpt2Model.FromPretrained(BaseDir);
        using var peft = PeftModel.FromPretrained(model, Path.Combine(Root, "adapter"));
        TestData.AssertClose(expIa3.ToDoubleArray(), Run(peft, ids), 1e-4, 1e-4, "IA3 logits");
        peft.MergeAdapter();
        TestData.AssertClose(expIa3.ToDoubleArray(), Run(peft, ids), 1e-4, 1e-4, "merged IA3 logits");
        peft.UnmergeAdapter();
        using (peft.DisableAdapter()) TestData.AssertClose(expBase.ToDoubleArray(), Run(peft, ids), 1e-4, 1e-4, "disabled");
        peft.LoadAdapter(Path.Combine(Root, "adapter", "ln"), "ln");
        peft.SetAdapter("ln");
        TestData.AssertClose(expLn.ToDoubleArray(), Run(peft, ids), 1e-4, 1e-4, "LN tuning logits");
    }

    [Fact]
    public void WhatWeSaveIsTheFilesHfWrote()
    {
        var model = Gpt2Model.FromPretrained(BaseDir);
        using var peft = PeftModel.FromPretrained(model, Path.Combine(Root, "adapter"));
        peft.LoadAdapter(Path.Combine(Root, "adapter", "ln"), "ln");
        var dir = TempDir();
        try
        {
            peft.SavePretrained(dir);
            foreach (var sub in new[] { "", "ln" })
            {
                string mine = Path.Combine(dir, sub), hf = Path.Combine(Root, "adapter", sub);
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
}
