using PeftEngine.IO.Safetensors;
using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>Tiny LLaMA and GPT-2 checkpoints saved packed load to the same model as their float32 references,
/// whose weights the fixture script computed from the quantized integers.</summary>
public class GptqAwqModelTests
{
    private static Tensor Ids()
    {
        var ids = new long[2 * 7];
        for (int i = 0; i < ids.Length; i++) ids[i] = (i * 13 + 5) % 48;
        return Tensor.FromArray(ids, 2, 7);
    }

    private static void AssertSameModel(Module packed, Module reference)
    {
        var expected = reference.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        var actual = packed.NamedParameters().ToList();
        Assert.Equal(expected.Count, actual.Count);
        foreach (var (name, p) in actual)
        {
            using var a = Ops.Cast(p.Data, DType.F32);
            using var b = Ops.Cast(expected[name].Data, DType.F32);
            Assert.True(b.ToArray<float>().SequenceEqual(a.ToArray<float>()), $"parameter '{name}' differs from the reference");
        }
    }

    private static void AssertSameLogits(ICausalLanguageModel packed, ICausalLanguageModel reference)
    {
        using var ids = Ids();
        using var a = packed.Forward(ids);
        using var b = reference.Forward(ids);
        Assert.Equal(b.Shape, a.Shape);
        TestData.AssertClose(b.ToDoubleArray(), a.ToDoubleArray(), 1e-6, 1e-6, "logits");
    }

    [Theory]
    [InlineData("llama_gptq")]
    [InlineData("llama_awq")]
    public void PackedLlamaLoadsAsItsDequantizedReference(string name)
    {
        using var packed = LlamaModel.FromPretrained(GptqAwqFixture.Path(name));
        using var reference = LlamaModel.FromPretrained(GptqAwqFixture.Path(name + "_reference"));
        AssertSameModel(packed, reference);
        AssertSameLogits(packed, reference);
    }

    [Fact]
    public void PackedGpt2LoadsItsConv1DWeightsInTheirLayout()
    {
        using var packed = Gpt2Model.FromPretrained(GptqAwqFixture.Path("gpt2_gptq"));
        using var reference = Gpt2Model.FromPretrained(GptqAwqFixture.Path("gpt2_gptq_reference"));
        AssertSameModel(packed, reference);
        AssertSameLogits(packed, reference);
    }

    [Fact]
    public void AutoModelAndBf16LoadingSeeTheDequantizedWeights()
    {
        var auto = AutoModel.FromPretrained(GptqAwqFixture.Path("llama_gptq"));
        using var autoModule = auto.Module;
        Assert.IsType<LlamaModel>(auto);

        using var bf16 = LlamaModel.FromPretrained(GptqAwqFixture.Path("llama_gptq"), DType.BF16);
        using var reference = LlamaModel.FromPretrained(GptqAwqFixture.Path("llama_gptq_reference"), DType.BF16);
        Assert.Equal(DType.BF16, bf16.NamedParameters().First(p => p.Name.EndsWith("q_proj.weight")).Parameter.Data.DType);
        AssertSameModel(bf16, reference);
    }

    [Fact]
    public void ADequantizedModelCanBeRequantizedToNf4()
    {
        using var model = LlamaModel.FromPretrained(GptqAwqFixture.Path("llama_gptq"));
        var report = ModelQuantizer.Quantize(model, BitsAndBytesConfig.QLoRA);
        Assert.Equal(2 * 7, report.Layers);   // q, k, v, o, gate, up, down per layer; lm_head stays
        Assert.IsType<Linear4Bit>(model.GetSubmodule("model.layers.1.mlp.down_proj"));
        using var ids = Ids();
        using var logits = model.Forward(ids);
        Assert.All(logits.ToDoubleArray(), v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void AllZeroBiasesOfPackedLayersAreIgnoredWhenTheModelHasNoBias()
    {
        using var dir = new TempFolder();
        File.Copy(GptqAwqFixture.Path("llama_gptq/config.json"), dir.File("config.json"));
        using var reference = LlamaModel.FromPretrained(GptqAwqFixture.Path("llama_gptq_reference"));
        foreach (var (value, loads) in new[] { (0f, true), (0.5f, false) })
        {
            using (var file = SafetensorsFile.Open(GptqAwqFixture.Path("llama_gptq/model.safetensors")))
            {
                var tensors = file.LoadAll();
                tensors["model.layers.0.mlp.down_proj.bias"] = Tensor.Full(new Shape(32), value, DType.F16);
                SafetensorsWriter.Save(dir.File("model.safetensors"), tensors);
                foreach (var t in tensors.Values) t.Dispose();
            }
            if (loads)
            {
                using var model = LlamaModel.FromPretrained(dir.Path);
                AssertSameModel(model, reference);
            }
            else
            {
                var e = Assert.Throws<InvalidDataException>(() => LlamaModel.FromPretrained(dir.Path));
                Assert.Contains("'model.layers.0.mlp.down_proj.bias'", e.Message);
            }
        }
    }

    [Fact]
    public void ConfigSizesThatDisagreeWithThePackedShapesAreNamed()
    {
        using var dir = new TempFolder();
        File.Copy(GptqAwqFixture.Path("llama_gptq/model.safetensors"), dir.File("model.safetensors"));
        string config = File.ReadAllText(GptqAwqFixture.Path("llama_gptq/config.json")).Replace("\"intermediate_size\": 64", "\"intermediate_size\": 72");
        Assert.Contains("72", config);
        File.WriteAllText(dir.File("config.json"), config);
        var e = Assert.Throws<InvalidDataException>(() => LlamaModel.FromPretrained(dir.Path));
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", e.Message);
        Assert.Contains("(64, 32)", e.Message);
    }
}
