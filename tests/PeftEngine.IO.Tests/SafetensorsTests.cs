using System.Buffers.Binary;
using System.Text;
using PeftEngine.IO.Safetensors;

namespace PeftEngine.Tests;

public class SafetensorsTests
{
    private static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", ""));

    /// <summary>Builds a file from a header text and data bytes, padding nothing: exactly what a test wants.</summary>
    private static void WriteFile(string path, string header, byte[] data, long? declaredLength = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(declaredLength ?? h.Length));
        h.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + h.Length);
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void RoundTripsEveryEngineDtype()
    {
        using var dir = new TempDir();
        using var f32 = Tensor.FromArray(new float[] { 1.5f, -2, 3, 4, 5, 6 }, 2, 3);
        using var f32t = Ops.Transpose(f32, 0, 1); // non-contiguous (3, 2)
        using var f64 = Tensor.FromArray(new double[] { Math.PI, -1e300, 0 }, 3);
        using var f16 = Tensor.FromArray(new Half[] { (Half)0.5f, (Half)(-65504f) }, 2);
        using var bf16 = Tensor.FromArray(new[] { BFloat16.FromSingle(1.25f), BFloat16.FromSingle(-3e38f) }, 2, 1);
        using var i32 = Tensor.FromArray(new[] { int.MinValue, 7 }, 2);
        using var i64 = Tensor.FromArray(new[] { long.MaxValue }, 1);
        using var u8 = Tensor.FromArray(new byte[] { 0, 255, 9 }, 3);
        using var scalar = Tensor.Scalar(2.5);
        using var empty = Tensor.Zeros(new Shape(0, 3));
        var all = new Dictionary<string, Tensor>
        {
            ["w.f32t"] = f32t, ["f64"] = f64, ["f16"] = f16, ["bf16"] = bf16, ["i32"] = i32, ["i64"] = i64,
            ["u8"] = u8, ["scalar"] = scalar, ["empty"] = empty,
        };
        string path = dir.File("all.safetensors");
        SafetensorsWriter.Save(path, all, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ü<&>" });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(all.Keys.Order(), file.Keys.Order());
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("ü<&>", file.Metadata["note"]);
        foreach (var (name, expected) in all)
        {
            using var got = file.Load(name);
            Assert.Equal(expected.DType, got.DType);
            Assert.Equal(expected.Shape, got.Shape);
            Assert.Equal(expected.ToDoubleArray(), got.ToDoubleArray());
            Assert.Equal(expected.Shape.ToArray(), file.Info(name).Shape);
        }
        Assert.Equal(SafetensorsDType.F32, file.Info("w.f32t").DType);
        Assert.Equal(new float[] { 1.5f, 4, -2, 5, 3, 6 }, file.Load("w.f32t").ToArray<float>());
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void RawI8AndBoolLoadAsWidenedEngineTypes()
    {
        using var dir = new TempDir();
        string path = dir.File("raw.safetensors");
        SafetensorsWriter.SaveRaw(path, new Dictionary<string, SafetensorsRawTensor>
        {
            ["q"] = new(SafetensorsDType.I8, [2, 2], new byte[] { 0x80, 0xFF, 0x00, 0x7F }),
            ["mask"] = new(SafetensorsDType.BOOL, [3], new byte[] { 1, 0, 1 }),
        });
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(SafetensorsDType.I8, file.Info("q").DType);
        using var q = file.Load("q");
        Assert.Equal(DType.I32, q.DType);
        Assert.Equal(new[] { -128, -1, 0, 127 }, q.ToArray<int>());
        using var mask = file.Load("mask");
        Assert.Equal(DType.U8, mask.DType);
        Assert.Equal(new byte[] { 1, 0, 1 }, mask.ToArray<byte>());
        using var qf = file.Load("q", DType.F32);
        Assert.Equal(new float[] { -128, -1, 0, 127 }, qf.ToArray<float>());
    }

    [Fact]
    public void LoadConvertsDtype()
    {
        using var dir = new TempDir();
        string path = dir.File("bf.safetensors");
        using var bf = Tensor.FromArray(new[] { BFloat16.FromSingle(1.5f), BFloat16.FromSingle(-0.25f) }, 2);
        SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["x"] = bf });
        using var file = SafetensorsFile.Open(path);
        using var x = file.Load("x", DType.F32);
        Assert.Equal(DType.F32, x.DType);
        Assert.Equal(new[] { 1.5f, -0.25f }, x.ToArray<float>());
    }

    [Fact]
    public void WriterIsByteExactForATinyFile()
    {
        // HF order: F32 before F16 (larger dtypes first), so "b" precedes "a". The compact header is 139 bytes,
        // padded with 5 spaces to 144 = 0x90.
        string json = "{\"__metadata__\":{\"format\":\"pt\"},"
                    + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    + "\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[8,10]}}";
        Assert.Equal(139, json.Length);
        var expected = Hex("90 00 00 00 00 00 00 00")
            .Concat(Encoding.ASCII.GetBytes(json + "     "))
            .Concat(Hex("0000803F 000000C0"))   // 1.0f, -2.0f
            .Concat(Hex("003C"))                // half 1.0
            .ToArray();

        using var dir = new TempDir();
        string path = dir.File("tiny.safetensors");
        using var a = Tensor.FromArray(new[] { (Half)1f }, 1);
        using var b = Tensor.FromArray(new[] { 1f, -2f }, 2);
        SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b },
            new Dictionary<string, string> { ["format"] = "pt" });
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(File.ReadAllBytes(path)));
    }

    [Fact]
    public void ReadsAHandBuiltFileInTheReferenceLayout()
    {
        // A PEFT-style adapter file laid out by construction from the spec: I64 first, then F32, then BF16.
        string json = "{\"__metadata__\":{\"format\":\"pt\"},"
                    + "\"step\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                    + "\"base_model.model.lin.lora_A.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[8,16]},"
                    + "\"base_model.model.lin.lora_B.weight\":{\"dtype\":\"BF16\",\"shape\":[2,1],\"data_offsets\":[16,20]}}";
        int pad = (8 - json.Length % 8) % 8;
        using var dir = new TempDir();
        string path = dir.File("adapter_model.safetensors");
        WriteFile(path, json + new string(' ', pad),
            Hex("0500000000000000 0000C03F 000080BF 803F 0040")); // 5; 1.5f, -1f; bf16 1.0, 2.0
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(5, file.Load("step").ToArray<long>()[0]);
        Assert.Equal(new[] { 1.5f, -1f }, file.Load("base_model.model.lin.lora_A.weight").ToArray<float>());
        Assert.Equal(new[] { 1f, 2f }, file.Load("base_model.model.lin.lora_B.weight", DType.F32).ToArray<float>());
        Assert.Equal(new[] { 1, 2 }, file.Info("base_model.model.lin.lora_A.weight").Shape);
        Assert.Equal(16, file.Info("base_model.model.lin.lora_B.weight").Begin);
    }

    [Theory]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "x", "truncated")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "x", "needs 12")]
    [InlineData("{\"x\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "x", "unknown or unsupported dtype 'Q4'")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "y", "overlap")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "x", "hole")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "x", "twice")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "x", "data_offsets")]
    [InlineData("{\"__metadata__\":{\"n\":3}}", 0, "__metadata__.n", "strings")]
    public void BadHeadersGiveErrorsNamingFileAndKey(string header, int dataBytes, string key, string fragment)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.safetensors");
        WriteFile(path, header, new byte[dataBytes]);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains($"'{key}'", e.Message);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void TruncatedAndNonSafetensorsFilesGiveNamedErrors()
    {
        using var dir = new TempDir();
        using var t = Tensor.FromArray(new[] { 1f, 2f, 3f }, 3);
        string good = dir.File("good.safetensors");
        SafetensorsWriter.Save(good, new Dictionary<string, Tensor> { ["t"] = t });
        var bytes = File.ReadAllBytes(good);

        string cut = dir.File("cut.safetensors");
        File.WriteAllBytes(cut, bytes[..^1]);
        var e1 = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(cut));
        Assert.Contains(cut, e1.Message);

        string headerCut = dir.File("headercut.safetensors");
        File.WriteAllBytes(headerCut, bytes[..20]);
        var e2 = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(headerCut));
        Assert.Contains("runs past the end of the file", e2.Message);
        Assert.Contains(headerCut, e2.Message);

        string tiny = dir.File("tiny.safetensors");
        File.WriteAllBytes(tiny, [1, 2, 3]);
        Assert.Contains(tiny, Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(tiny)).Message);

        string notJson = dir.File("notjson.safetensors");
        WriteFile(notJson, "{nope", []);
        Assert.Contains("not valid JSON", Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(notJson)).Message);

        using var file = SafetensorsFile.Open(good);
        var e3 = Assert.Throws<KeyNotFoundException>(() => file.Load("missing"));
        Assert.Contains("'missing'", e3.Message);
        Assert.Contains(good, e3.Message);
    }

    [Fact]
    public void OverwritesAtomicallyAndKeepsLoadedTensorsAfterClose()
    {
        using var dir = new TempDir();
        string path = dir.File("w.safetensors");
        using var a = Tensor.FromArray(new[] { 1f }, 1);
        using var b = Tensor.FromArray(new[] { 2f, 3f }, 2);
        SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["a"] = a });
        SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["b"] = b });
        Tensor loaded;
        using (var file = SafetensorsFile.Open(path))
        {
            Assert.Equal(["b"], file.Keys);
            loaded = file.Load("b");
        }
        Assert.Equal(new[] { 2f, 3f }, loaded.ToArray<float>());
        loaded.Dispose();
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void ShardedCheckpointLoadsThroughItsIndex()
    {
        using var dir = new TempDir();
        using var a = Tensor.FromArray(new[] { 1f, 2f }, 2);
        using var b = Tensor.FromArray(new[] { 3.0, 4.0, 5.0 }, 3);
        SafetensorsWriter.Save(dir.File("model-00001-of-00002.safetensors"), new Dictionary<string, Tensor> { ["embed.weight"] = a });
        SafetensorsWriter.Save(dir.File("model-00002-of-00002.safetensors"), new Dictionary<string, Tensor> { ["lm_head.weight"] = b });
        File.WriteAllText(dir.File(ShardedSafetensors.IndexFileName), """
            {
              "metadata": {"total_size": 32},
              "weight_map": {
                "embed.weight": "model-00001-of-00002.safetensors",
                "lm_head.weight": "model-00002-of-00002.safetensors"
              }
            }
            """);
        using var src = ShardedSafetensors.OpenDirectory(dir.Path);
        var sharded = Assert.IsType<ShardedSafetensors>(src);
        Assert.Equal("32", sharded.Metadata["total_size"]);
        Assert.Equal(["embed.weight", "lm_head.weight"], src.Keys.Order());
        Assert.Equal(new[] { 1f, 2f }, src.Load("embed.weight").ToArray<float>());
        Assert.Equal(new[] { 3f, 4f, 5f }, src.Load("lm_head.weight", DType.F32).ToArray<float>());
        Assert.Equal(SafetensorsDType.F64, src.Info("lm_head.weight").DType);
        Assert.Throws<KeyNotFoundException>(() => src.Load("nope"));
    }

    [Fact]
    public void ShardedIndexErrorsNameTheIndexAndKey()
    {
        using var dir = new TempDir();
        using var a = Tensor.FromArray(new[] { 1f }, 1);
        SafetensorsWriter.Save(dir.File("s1.safetensors"), new Dictionary<string, Tensor> { ["a"] = a });
        string index = dir.File("idx.json");
        File.WriteAllText(index, """{"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}}""");
        var e = Assert.Throws<InvalidDataException>(() => ShardedSafetensors.Open(index));
        Assert.Contains("'b'", e.Message);
        Assert.Contains(index, e.Message);
        File.WriteAllText(index, """{"weight_map": {"a": "s2.safetensors"}}""");
        Assert.Contains("s2.safetensors", Assert.Throws<FileNotFoundException>(() => ShardedSafetensors.Open(index)).Message);
    }

    [Fact]
    public void SingleFileFolderOpensWithoutIndex()
    {
        using var dir = new TempDir();
        using var a = Tensor.FromArray(new[] { 1f }, 1);
        SafetensorsWriter.Save(dir.File("model.safetensors"), new Dictionary<string, Tensor> { ["a"] = a });
        using var src = ShardedSafetensors.OpenDirectory(dir.Path);
        Assert.IsType<SafetensorsFile>(src);
        Assert.True(src.Contains("a"));
    }
}
