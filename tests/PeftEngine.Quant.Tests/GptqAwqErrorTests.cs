using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>Every refused input names the tensor (or config field) and the format.</summary>
public class GptqAwqErrorTests
{
    private const string GptqCase = "gptq_4bit_v1_asym_actorder";   // in 64, out 32, group 16
    private const string AwqCase = "awq_4bit_g32";                  // in 64, out 48, group 32

    private static GptqAwqConfig ConfigOf(string name) => GptqAwqFixture.Cases().Single(c => c.Name == name).Config;

    /// <summary>The case's tensors renamed to the module "m" ("m.qweight", ...), for editing.</summary>
    private static MemoryTensorSource Module(string name)
    {
        using var file = GptqAwqFixture.OpenMatrices();
        var m = MemoryTensorSource.CopyOf(file, name + ".", "m.");
        m.Remove("m.expected");
        return m;
    }

    private static InvalidDataException Dequantize(MemoryTensorSource m, GptqAwqConfig config) =>
        Assert.Throws<InvalidDataException>(() =>
        {
            var checkpoint = new GptqAwqCheckpoint(m, config, "ckpt.safetensors");   // not disposed: the test owns m
            using var w = checkpoint.Load("m.weight");
        });

    [Fact]
    public void ThreeBitIsRefusedNamingTheTensor()
    {
        using var m = Module(GptqCase);
        var e = Dequantize(m, ConfigOf(GptqCase) with { Bits = 3 });
        Assert.Contains("'m.qweight'", e.Message);
        Assert.Contains("3-bit", e.Message);
        Assert.Contains("GPTQ", e.Message);
        Assert.Contains("ckpt.safetensors", e.Message);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(16)]
    public void OtherGptqWidthsAreRefused(int bits)
    {
        using var m = Module(GptqCase);
        var e = Dequantize(m, ConfigOf(GptqCase) with { Bits = bits });
        Assert.Contains($"{bits} bits", e.Message);
        Assert.Contains("'m.qweight'", e.Message);
    }

    [Fact]
    public void AwqOtherThanFourBitsIsRefused()
    {
        using var m = Module(AwqCase);
        var e = Dequantize(m, ConfigOf(AwqCase) with { Bits = 8 });
        Assert.Contains("AWQ", e.Message);
        Assert.Contains("'m.qweight'", e.Message);
        Assert.Contains("only 4-bit", e.Message);
    }

    [Theory]
    [InlineData(GptqCase, 24)]
    [InlineData(AwqCase, 48)]
    public void AGroupSizeThatDoesNotDivideTheInputsIsRefused(string name, int group)
    {
        using var m = Module(name);
        var e = Dequantize(m, ConfigOf(name) with { GroupSize = group });
        Assert.Contains($"group_size {group} does not divide in_features 64", e.Message);
        Assert.Contains("'m'", e.Message);
    }

    [Fact]
    public void AnInvalidGroupSizeIsRefusedByTheConfig()
    {
        var e = Assert.Throws<InvalidDataException>(() => (ConfigOf(GptqCase) with { GroupSize = 0 }).Validate("config.json"));
        Assert.Contains("group_size 0", e.Message);
    }

    [Theory]
    [InlineData(GptqCase, "m.qzeros", 4, 3, "(4, 4)")]
    [InlineData(GptqCase, "m.scales", 4, 31, "(4, 32)")]
    [InlineData(AwqCase, "m.qzeros", 2, 5, "(2, 6)")]
    [InlineData(AwqCase, "m.scales", 1, 48, "(2, 48)")]
    public void WrongShapesAreRefused(string name, string key, int rows, int cols, string expected)
    {
        using var m = Module(name);
        m[key] = key.EndsWith("scales") ? Tensor.Zeros(new Shape(rows, cols), DType.F16) : Tensor.Zeros(new Shape(rows, cols), DType.I32);
        var e = Dequantize(m, ConfigOf(name));
        Assert.Contains($"'{key}'", e.Message);
        Assert.Contains($"({rows}, {cols})", e.Message);
        Assert.Contains($"expected {expected}", e.Message);
    }

    [Fact]
    public void AFloatQweightIsRefused()
    {
        using var m = Module(GptqCase);
        using (var q = m.Load("m.qweight")) m["m.qweight"] = Ops.Cast(q, DType.F32);
        var e = Dequantize(m, ConfigOf(GptqCase));
        Assert.Contains("'m.qweight' must be int32", e.Message);
    }

    [Fact]
    public void AOneDimensionalQweightIsRefused()
    {
        using var m = Module(GptqCase);
        m["m.qweight"] = Tensor.Zeros(new Shape(8 * 32), DType.I32);
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            var checkpoint = new GptqAwqCheckpoint(m, ConfigOf(GptqCase), "ckpt.safetensors");
            checkpoint.Info("m.weight");
        });
        Assert.Contains("'m.qweight'", e.Message);
        Assert.Contains("2-D", e.Message);
    }

    [Fact]
    public void ABadGIdxIsRefused()
    {
        using var m = Module(GptqCase);
        m["m.g_idx"] = Tensor.FromArray(new int[63]);
        var e = Dequantize(m, ConfigOf(GptqCase));
        Assert.Contains("'m.g_idx'", e.Message);
        Assert.Contains("64 entries", e.Message);

        var idx = new int[64];
        idx[10] = 4;   // 4 groups: 0..3
        m["m.g_idx"] = Tensor.FromArray(idx);
        e = Dequantize(m, ConfigOf(GptqCase));
        Assert.Contains("'m.g_idx'[10] = 4", e.Message);
    }

    [Theory]
    [InlineData(".scales")]
    [InlineData(".qzeros")]
    public void MissingScalesOrZerosAreNamed(string part)
    {
        using var m = Module(GptqCase);
        m.Remove("m" + part);
        var e = Assert.Throws<InvalidDataException>(() => new GptqAwqCheckpoint(m, ConfigOf(GptqCase), "ckpt.safetensors"));
        Assert.Contains($"'m{part}' is missing", e.Message);
        Assert.Contains("GPTQ", e.Message);
    }

    [Fact]
    public void APackedAndAPlainWeightForOneModuleAreRefused()
    {
        using var m = Module(AwqCase);
        m["m.weight"] = Tensor.Zeros(new Shape(48, 64), DType.F32);
        var e = Assert.Throws<InvalidDataException>(() => new GptqAwqCheckpoint(m, ConfigOf(AwqCase), "ckpt.safetensors"));
        Assert.Contains("'m.qweight'", e.Message);
        Assert.Contains("'m.weight'", e.Message);
    }

    [Theory]
    [InlineData("gemv")]
    [InlineData("gemv_fast")]
    [InlineData("exllama")]
    public void AwqVersionsOtherThanGemmAreRefused(string version)
    {
        using var m = Module(AwqCase);
        var e = Assert.Throws<InvalidDataException>(() => new GptqAwqCheckpoint(m, ConfigOf(AwqCase) with { Version = version }, "config.json"));
        Assert.Contains($"AWQ version \"{version}\"", e.Message);
        Assert.Contains("gemm", e.Message);
    }

    [Fact]
    public void AwqWithoutZeroPointsAndUnknownGptqFormatsAreRefused()
    {
        var e = Assert.Throws<InvalidDataException>(() => (ConfigOf(AwqCase) with { ZeroPoint = false }).Validate("config.json"));
        Assert.Contains("zero_point false", e.Message);
        e = Assert.Throws<InvalidDataException>(() => (ConfigOf(GptqCase) with { CheckpointFormat = "marlin" }).Validate("config.json"));
        Assert.Contains("checkpoint_format \"marlin\"", e.Message);
    }

    [Fact]
    public void PackedTensorsWithoutAQuantizationConfigAreRefused()
    {
        using var dir = new TempFolder();
        File.WriteAllText(dir.File("config.json"), "{\"model_type\": \"llama\"}");
        var m = Module(GptqCase);
        var e = Assert.Throws<InvalidDataException>(() => GptqAwqCheckpoint.Wrap(m, dir.File("config.json"), "model.safetensors"));
        Assert.Contains("'m.qweight'", e.Message);
        Assert.Contains("quantization_config", e.Message);
        Assert.False(m.Keys.Any());   // Wrap disposed the source it was given
    }

    [Fact]
    public void KeysOfPackedPartsAreHidden()
    {
        using var m = Module(GptqCase);
        using var checkpoint = new GptqAwqCheckpoint(m, ConfigOf(GptqCase), "ckpt.safetensors");
        Assert.Equal(new[] { "m.weight" }, checkpoint.Keys.ToArray());
        Assert.False(checkpoint.Contains("m.qweight"));
        Assert.True(checkpoint.Contains("m.weight"));
        Assert.Equal(new[] { 32, 64 }, checkpoint.Info("m.weight").Shape);
        Assert.Throws<KeyNotFoundException>(() => checkpoint.Load("m.scales"));
    }
}
