using System.Text.Json;
using PeftEngine.IO.Gguf;
using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>Every ggml block format against llama.cpp's gguf-py (Fixtures/ggml/make_fixture.py).</summary>
public class GgmlBlockTests
{
    private static readonly Lazy<Dictionary<string, (int Blocks, byte[] Data, float[] Expected)>> Fixture = new(() =>
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "ggml", "ggml_fixture.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.EnumerateArray().ToDictionary(
            c => c.GetProperty("type").GetString()!,
            c =>
            {
                var expectedBytes = Convert.FromBase64String(c.GetProperty("expected").GetString()!);
                var expected = new float[expectedBytes.Length / 4];
                Buffer.BlockCopy(expectedBytes, 0, expected, 0, expectedBytes.Length);
                return (c.GetProperty("blocks").GetInt32(), Convert.FromBase64String(c.GetProperty("data").GetString()!), expected);
            });
    });

    public static TheoryData<string> Types() => new(GgufDequantizer.SupportedBlockTypes.Select(t => t.ToString()));

    [Theory]
    [MemberData(nameof(Types))]
    public void DequantizationEqualsGgufPy(string typeName)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        var (_, data, expected) = Fixture.Value[typeName];
        var output = new float[expected.Length];
        GgufDequantizer.Dequantize(type, data, output);
        // gguf-py computes in float32 numpy with the same operation order for most types; allow a last-bit difference.
        TestData.AssertClose(expected.Select(v => (double)v).ToArray(), output.Select(v => (double)v).ToArray(), 1e-7, 1e-6, typeName);
    }

    [Fact]
    public void Q4_0QuantizerEqualsGgufPy()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "ggml", "ggml_fixture.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var q4 = doc.RootElement.EnumerateArray().Single(c => c.GetProperty("type").GetString() == "Q4_0");
        var valueBytes = Convert.FromBase64String(q4.GetProperty("values").GetString()!);
        var values = new float[valueBytes.Length / 4];
        Buffer.BlockCopy(valueBytes, 0, values, 0, valueBytes.Length);
        Assert.Equal(Convert.FromBase64String(q4.GetProperty("data").GetString()!), GgmlLegacyBlocks.QuantizeQ4_0(values));
    }

    [Fact]
    public void Q4_0HandComputedBlock()
    {
        // d = 0.5 (float16 0x3800); byte j = (hi << 4) | lo with lo = j, hi = 15 - j:
        // y[j] = (j - 8) * 0.5 and y[j + 16] = (7 - j) * 0.5.
        var block = new byte[18];
        block[0] = 0x00;
        block[1] = 0x38;
        for (int j = 0; j < 16; j++) block[2 + j] = (byte)(((15 - j) << 4) | j);
        var y = new float[32];
        GgmlLegacyBlocks.DequantizeQ4_0(block, y);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal((j - 8) * 0.5f, y[j]);
            Assert.Equal((7 - j) * 0.5f, y[j + 16]);
        }
    }

    [Fact]
    public void LoadsQuantizedTensorsFromAGgufFile()
    {
        var (_, q4k, q4kExpected) = Fixture.Value["Q4_K"];     // 3 super-blocks = 768 values
        var (_, q80, q80Expected) = Fixture.Value["Q8_0"];     // 6 blocks = 192 values
        string path = Path.Combine(Path.GetTempPath(), $"peft-ggml-{Guid.NewGuid():N}.gguf");
        try
        {
            using (var plain = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2))
                new GgufWriter()
                    .AddString("general.architecture", "llama")
                    .AddRaw("blk.0.ffn_down.weight", GgmlType.Q4_K, [3, 256], q4k)    // engine shape (rows, cols)
                    .AddRaw("blk.0.attn_q.weight", GgmlType.Q8_0, [6, 32], q80)
                    .AddTensor("output_norm.weight", plain)
                    .Save(path);
            using var file = GgufFile.Open(path);
            using var a = GgufDequantizer.LoadF32(file, "blk.0.ffn_down.weight");
            Assert.Equal(new Shape(3, 256), a.Shape);
            Assert.Equal(q4kExpected, a.ToArray<float>());
            using var b = GgufDequantizer.LoadF32(file, "blk.0.attn_q.weight");
            Assert.Equal(q80Expected, b.ToArray<float>());
            using var c = GgufDequantizer.LoadF32(file, "output_norm.weight");
            Assert.Equal(new float[] { 1, 2, 3, 4 }, c.ToArray<float>());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void WrongByteCountsAreReported()
    {
        var e = Assert.Throws<ArgumentException>(() => GgufDequantizer.Dequantize(GgmlType.Q4_K, new byte[143], new float[256]));
        Assert.Contains("144 bytes per 256 values", e.Message);
        Assert.Throws<NotSupportedException>(() => GgufDequantizer.Dequantize(GgmlType.IQ2_XXS, new byte[66], new float[256]));
    }
}
