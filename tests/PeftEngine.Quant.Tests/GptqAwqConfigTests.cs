using PeftEngine.Quant;

namespace PeftEngine.Tests;

public class GptqAwqConfigTests
{
    [Fact]
    public void ReadsAGptqConfigWithTransformersDefaults()
    {
        var c = GptqAwqConfig.Parse("""{"model_type": "llama", "quantization_config": {"quant_method": "gptq", "bits": 8, "desc_act": true}}""");
        Assert.NotNull(c);
        Assert.True(c.IsGptq);
        Assert.Equal(8, c.Bits);
        Assert.Equal(128, c.GroupSize);
        Assert.True(c.DescAct);
        Assert.True(c.Sym);
        Assert.Equal("gptq", c.CheckpointFormat);
        Assert.True(c.ZerosStoredMinusOne);
        Assert.Equal("gptq, 8-bit, group 128, act-order, symmetric, checkpoint_format gptq", c.Describe());
    }

    [Fact]
    public void GptqV2StoresTrueZeros()
    {
        var c = GptqAwqConfig.Parse("""{"quantization_config": {"quant_method": "GPTQ", "bits": 4, "group_size": -1, "checkpoint_format": "gptq_v2", "sym": false}}""")!;
        Assert.False(c.ZerosStoredMinusOne);
        Assert.Equal(-1, c.GroupSize);
        Assert.Equal("gptq, 4-bit, one group, asymmetric, checkpoint_format gptq_v2", c.Describe());
    }

    [Fact]
    public void ReadsAwqConfigsInTransformersAndAutoAwqSpelling()
    {
        var hf = GptqAwqConfig.Parse("""{"quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 64, "version": "GEMM", "zero_point": true, "modules_to_not_convert": null}}""")!;
        Assert.False(hf.IsGptq);
        Assert.Equal(64, hf.GroupSize);
        Assert.Equal("gemm", hf.Version);
        Assert.False(hf.ZerosStoredMinusOne);
        hf.Validate("config.json");

        var autoAwq = GptqAwqConfig.Parse("""{"quantization_config": {"quant_method": "awq", "w_bit": 4, "q_group_size": 32, "version": "gemv"}}""")!;
        Assert.Equal(32, autoAwq.GroupSize);
        Assert.Equal("awq, 4-bit, group 32, version gemv", autoAwq.Describe());
    }

    [Fact]
    public void OtherMethodsAndPlainConfigsGiveNull()
    {
        Assert.Null(GptqAwqConfig.Parse("""{"model_type": "llama"}"""));
        Assert.Null(GptqAwqConfig.Parse("""{"quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": true}}"""));
    }

    [Fact]
    public void QuantMethodOfNamesAnyMethod()
    {
        using var dir = new TempFolder();
        string file = dir.File("config.json");
        File.WriteAllText(file, """{"quantization_config": {"quant_method": "bitsandbytes"}}""");
        Assert.Equal("bitsandbytes", GptqAwqConfig.QuantMethodOf(file));
        Assert.Null(GptqAwqConfig.FromConfigFile(file));
        File.WriteAllText(file, """{"model_type": "gpt2"}""");
        Assert.Null(GptqAwqConfig.QuantMethodOf(file));
    }

    [Fact]
    public void AFieldOfTheWrongTypeIsNamed()
    {
        var e = Assert.Throws<InvalidDataException>(() => GptqAwqConfig.Parse("""{"quantization_config": {"quant_method": "gptq", "bits": "four"}}""", "cfg.json"));
        Assert.Contains("cfg.json", e.Message);
        Assert.Contains("gptq", e.Message);
    }
}
