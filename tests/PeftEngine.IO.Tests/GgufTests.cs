using System.Text;
using PeftEngine.IO.Gguf;

namespace PeftEngine.Tests;

public class GgufTests
{
    private static GgufWriter SampleWriter() => new GgufWriter()
        .AddString("general.architecture", "llama")
        .Add("u8", GgufValueType.UInt8, (byte)200)
        .Add("i8", GgufValueType.Int8, (sbyte)-5)
        .Add("u16", GgufValueType.UInt16, (ushort)60000)
        .Add("i16", GgufValueType.Int16, (short)-300)
        .AddUInt32("llama.attention.head_count", 2)
        .Add("i32", GgufValueType.Int32, -70000)
        .AddFloat32("f32", 0.25f)
        .AddBool("flag", true)
        .Add("u64", GgufValueType.UInt64, ulong.MaxValue)
        .Add("i64", GgufValueType.Int64, long.MinValue)
        .Add("f64", GgufValueType.Float64, Math.E)
        .AddArray("strs", GgufValueType.String, new[] { "a", "ü", "" })
        .AddArray("empty", GgufValueType.Int32, Array.Empty<int>())
        .Add("nested", GgufValueType.Array, new GgufArray(GgufValueType.Array,
            [new GgufArray(GgufValueType.UInt8, [(byte)1, (byte)2]), new GgufArray(GgufValueType.UInt8, [])]));

    [Theory]
    [InlineData(null)]
    [InlineData(64u)]
    public void RoundTripsMetadataAndTensors(uint? alignment)
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        using var f32 = Tensor.FromArray(new[] { 1f, 2, 3, 4, 5, 6 }, 2, 3);
        using var f16 = Tensor.FromArray(new[] { (Half)1.5f, (Half)(-2f), (Half)0.125f }, 3);
        using var bf16 = Tensor.FromArray(new[] { BFloat16.FromSingle(7f) }, 1, 1);
        using var i32 = Tensor.FromArray(new[] { -1, 2 }, 2);
        var qv = Enumerable.Range(0, 64).Select(i => (float)Math.Sin(i)).ToArray();
        using var q = Tensor.FromArray(qv, 2, 32);
        var w = SampleWriter();
        if (alignment is { } a) w.AddUInt32("general.alignment", a);
        w.AddTensor("f32", f32).AddTensor("f16", f16).AddTensor("bf16", bf16).AddTensor("i32", i32).AddQ8_0("q", q);
        w.Save(path);

        using var g = GgufFile.Open(path);
        Assert.Equal(3u, g.Version);
        Assert.Equal((int)(alignment ?? 32), g.Alignment);
        Assert.Equal(0, g.DataOffset % g.Alignment);
        Assert.Equal("llama", g.Architecture);
        Assert.Equal(2, g.ArchInteger("attention.head_count"));
        Assert.Equal((byte)200, g.Get("u8"));
        Assert.Equal((sbyte)-5, g.Get("i8"));
        Assert.Equal((ushort)60000, g.Get("u16"));
        Assert.Equal((short)-300, g.Get("i16"));
        Assert.Equal(-70000, g.Get("i32"));
        Assert.Equal(0.25f, g.Get("f32"));
        Assert.True(g.GetBool("flag"));
        Assert.Equal(ulong.MaxValue, g.Get("u64"));
        Assert.Equal(long.MinValue, g.GetInteger("i64"));
        Assert.Equal(Math.E, g.GetNumber("f64"));
        Assert.Equal(["a", "ü", ""], g.GetStringArray("strs"));
        Assert.Empty(g.GetArray("empty").Items);
        var nested = g.GetArray("nested");
        Assert.Equal(GgufValueType.Array, nested.ElementType);
        Assert.Equal(new object[] { (byte)1, (byte)2 }, ((GgufArray)nested.Items[0]).Items);
        Assert.Equal(GgufValueType.UInt8, g.MetadataTypes["u8"]);

        Assert.Equal(["f32", "f16", "bf16", "i32", "q"], g.Keys);
        Assert.Equal(new long[] { 3, 2 }, g.Info("f32").GgufDims);   // innermost first
        Assert.Equal(new[] { 2, 3 }, g.Info("f32").Shape);
        foreach (var t in g.Tensors) Assert.Equal(0, t.Offset % g.Alignment);
        Assert.Equal(f32.ToArray<float>(), g.Load("f32").ToArray<float>());
        Assert.Equal(new Shape(2, 3), g.Load("f32").Shape);
        Assert.Equal(f16.ToArray<Half>(), g.Load("f16").ToArray<Half>());
        Assert.Equal(new[] { 7f }, g.Load("bf16", DType.F32).ToArray<float>());
        Assert.Equal(new[] { -1, 2 }, g.Load("i32").ToArray<int>());
        using var qd = g.Load("q");
        Assert.Equal(DType.F32, qd.DType);
        Assert.Equal(new Shape(2, 32), qd.Shape);
        // Q8_0 error is at most half a step, d/2 = max|x|/254 per block.
        TestData.AssertClose(qv.Select(v => (double)v).ToArray(), qd.ToDoubleArray(), atol: 1.0 / 254 + 1e-3, rtol: 0);
    }

    [Fact]
    public void Q8_0DequantisesAHandBuiltBlock()
    {
        // d = 0.5 as float16 is 0x3800 (little-endian bytes 00 38); q[j] = j - 16.
        var block = new byte[34];
        block[0] = 0x00; block[1] = 0x38;
        for (int j = 0; j < 32; j++) block[2 + j] = (byte)(sbyte)(j - 16);
        var y = new float[32];
        GgufQuants.DequantizeQ8_0(block, y);
        Assert.Equal(Enumerable.Range(0, 32).Select(j => (j - 16) * 0.5f).ToArray(), y);
    }

    [Fact]
    public void Q8_0QuantisesLikeGgml()
    {
        // x[j] = j - 16: amax 16, d = 16/127 = 0.1259843 -> float16 0x3008 (= 0.1259766); q = round(x * 127/16).
        var x = Enumerable.Range(0, 32).Select(j => (float)(j - 16)).ToArray();
        var b = GgufQuants.QuantizeQ8_0(x);
        Assert.Equal(34, b.Length);
        Assert.Equal((byte)0x08, b[0]);
        Assert.Equal((byte)0x30, b[1]);
        Assert.Equal(-127, (sbyte)b[2]);        // x = -16
        Assert.Equal(0, (sbyte)b[2 + 16]);      // x = 0
        Assert.Equal(8, (sbyte)b[2 + 17]);      // x = 1: 7.9375 -> 8
        Assert.Equal(16, (sbyte)b[2 + 18]);     // x = 2: 15.875 -> 16
        Assert.Equal(119, (sbyte)b[2 + 31]);    // x = 15: 119.0625 -> 119
        var zeros = GgufQuants.QuantizeQ8_0(new float[32]);
        Assert.All(zeros, v => Assert.Equal(0, v));
    }

    [Fact]
    public void TruncatedFilesNameTheFile()
    {
        using var dir = new TempDir();
        string good = dir.File("good.gguf");
        using var t = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f }, 4);
        SampleWriter().AddTensor("t", t).Save(good);
        var bytes = File.ReadAllBytes(good);
        foreach (int cut in new[] { 10, 30, 200, bytes.Length - 40, bytes.Length - 1 })
        {
            string p = dir.File($"cut{cut}.gguf");
            File.WriteAllBytes(p, bytes[..cut]);
            var e = Assert.Throws<InvalidDataException>(() => GgufFile.Open(p));
            Assert.Contains(p, e.Message);
            Assert.Contains("truncated", e.Message);
        }
    }

    [Fact]
    public void BadMagicVersionAndTypesGiveClearErrors()
    {
        using var dir = new TempDir();
        string p = dir.File("x.gguf");

        File.WriteAllBytes(p, Encoding.ASCII.GetBytes("GGML").Concat(new byte[40]).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => GgufFile.Open(p));
        Assert.Contains("bad magic", e.Message);
        Assert.Contains(p, e.Message);

        File.WriteAllBytes(p, Header(1, 0, 0).Concat(new byte[16]).ToArray());
        Assert.Contains("version 1", Assert.Throws<InvalidDataException>(() => GgufFile.Open(p)).Message);

        // One key "k" with value type 77.
        var kv = Header(3, 0, 1).Concat(Str("k")).Concat(BitConverter.GetBytes(77u)).Concat(new byte[8]).ToArray();
        File.WriteAllBytes(p, kv);
        var e2 = Assert.Throws<InvalidDataException>(() => GgufFile.Open(p));
        Assert.Contains("'k'", e2.Message);
        Assert.Contains("unknown value type 77", e2.Message);

        // One tensor "w" of ggml type 99.
        var ti = Header(3, 1, 0).Concat(Str("w")).Concat(BitConverter.GetBytes(1u)).Concat(BitConverter.GetBytes(4UL))
            .Concat(BitConverter.GetBytes(99u)).Concat(BitConverter.GetBytes(0UL)).Concat(new byte[64]).ToArray();
        File.WriteAllBytes(p, ti);
        var e3 = Assert.Throws<InvalidDataException>(() => GgufFile.Open(p));
        Assert.Contains("'w'", e3.Message);
        Assert.Contains("unknown ggml type id 99", e3.Message);
        Assert.Contains(p, e3.Message);
    }

    private static byte[] Header(uint version, ulong tensors, ulong kvs) =>
        BitConverter.GetBytes(GgufFile.Magic).Concat(BitConverter.GetBytes(version))
            .Concat(BitConverter.GetBytes(tensors)).Concat(BitConverter.GetBytes(kvs)).ToArray();

    private static byte[] Str(string s) => BitConverter.GetBytes((ulong)s.Length).Concat(Encoding.UTF8.GetBytes(s)).ToArray();

    [Fact]
    public void UnsupportedQuantTypeLoadsWithANamedError()
    {
        using var dir = new TempDir();
        string p = dir.File("q4.gguf");
        new GgufWriter().AddRaw("blk.0.ffn_up.weight", GgmlType.Q4_0, [1, 32], new byte[18]).Save(p);
        using var g = GgufFile.Open(p);
        Assert.Equal(18, g.Info("blk.0.ffn_up.weight").ByteLength);
        var e = Assert.Throws<NotSupportedException>(() => g.Load("blk.0.ffn_up.weight"));
        Assert.Contains("Q4_0", e.Message);
        Assert.Contains("'blk.0.ffn_up.weight'", e.Message);
        Assert.Contains("no metadata key 'nope'", Assert.Throws<KeyNotFoundException>(() => g.Get("nope")).Message);
    }

    [Fact]
    public void ReadsTokenizerMetadata()
    {
        using var dir = new TempDir();
        string p = dir.File("tok.gguf");
        new GgufWriter()
            .AddString("general.architecture", "llama")
            .AddString("tokenizer.ggml.model", "gpt2")
            .AddString("tokenizer.ggml.pre", "llama-bpe")
            .AddArray("tokenizer.ggml.tokens", GgufValueType.String, new[] { "<s>", "</s>", "a", "b", "ab" })
            .AddArray("tokenizer.ggml.scores", GgufValueType.Float32, new[] { 0f, 0f, -1f, -2f, -0.5f })
            .AddArray("tokenizer.ggml.token_type", GgufValueType.Int32, new[] { 3, 3, 1, 1, 1 })
            .AddArray("tokenizer.ggml.merges", GgufValueType.String, new[] { "a b" })
            .AddUInt32("tokenizer.ggml.bos_token_id", 0)
            .AddUInt32("tokenizer.ggml.eos_token_id", 1)
            .AddBool("tokenizer.ggml.add_bos_token", true)
            .AddString("tokenizer.chat_template", "{{ messages }}")
            .Save(p);
        using var g = GgufFile.Open(p);
        var tok = GgufTokenizerData.FromGguf(g);
        Assert.Equal("gpt2", tok.Model);
        Assert.Equal("llama-bpe", tok.Pre);
        Assert.Equal(["<s>", "</s>", "a", "b", "ab"], tok.Tokens);
        Assert.Equal([0f, 0f, -1f, -2f, -0.5f], tok.Scores!);
        Assert.Equal([3, 3, 1, 1, 1], tok.TokenTypes!);
        Assert.Equal(["a b"], tok.Merges!);
        Assert.Equal((0, 1), (tok.BosTokenId, tok.EosTokenId));
        Assert.Null(tok.UnknownTokenId);
        Assert.True(tok.AddBosToken);
        Assert.Null(tok.AddEosToken);
        Assert.Equal("{{ messages }}", tok.ChatTemplate);
    }

    [Fact]
    public void TokenizerIdsOutsideTheVocabularyAreNamed()
    {
        using var dir = new TempDir();
        string p = dir.File("tok.gguf");
        new GgufWriter().AddString("tokenizer.ggml.model", "llama")
            .AddArray("tokenizer.ggml.tokens", GgufValueType.String, new[] { "a" })
            .AddUInt32("tokenizer.ggml.eos_token_id", 5).Save(p);
        using var g = GgufFile.Open(p);
        var e = Assert.Throws<InvalidDataException>(() => GgufTokenizerData.FromGguf(g));
        Assert.Contains("eos_token_id", e.Message);
        Assert.Contains(p, e.Message);
    }

    [Fact]
    public void LlamaQkPermutationMatchesTheIndexFormula()
    {
        // 2 heads of size 4, rows numbered by their HF index. Within a head GGUF row 2j+t holds HF row t*2+j:
        // head 0 -> HF rows [0, 2, 1, 3], head 1 -> [4, 6, 5, 7].
        using var hf = Tensor.FromArray(Enumerable.Range(0, 16).Select(i => (float)(i / 2)).ToArray(), 8, 2);
        using var gguf = LlamaQkPermutation.Apply(hf, 2);
        Assert.Equal(new float[] { 0, 0, 2, 2, 1, 1, 3, 3, 4, 4, 6, 6, 5, 5, 7, 7 }, gguf.ToArray<float>());
        using var back = LlamaQkPermutation.Undo(gguf, 2);
        Assert.Equal(hf.ToArray<float>(), back.ToArray<float>());
        using var bias = Tensor.FromArray(new float[] { 0, 1, 2, 3, 4, 5 }, 6);
        using var pb = LlamaQkPermutation.Apply(bias, 1);
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, pb.ToArray<float>());
        Assert.Throws<ArgumentException>(() => LlamaQkPermutation.Undo(bias, 4));
    }
}

public class GgufLlamaLoadingTests
{
    [Fact]
    public void LoadInHfOrderUndoesTheConverterPermutation()
    {
        using var dir = new TempDir();
        string p = dir.File("llama.gguf");
        // 2 query heads and 1 key/value head of size 4; width 2 (rows of a q/k projection).
        using var q = Tensor.FromArray(Enumerable.Range(0, 16).Select(i => (float)i).ToArray(), 8, 2);
        using var k = Tensor.FromArray(Enumerable.Range(0, 8).Select(i => (float)-i).ToArray(), 4, 2);
        using var qg = LlamaQkPermutation.Apply(q, 2);
        using var kg = LlamaQkPermutation.Apply(k, 1);
        new GgufWriter()
            .AddString("general.architecture", "llama")
            .AddUInt32("llama.attention.head_count", 2)
            .AddUInt32("llama.attention.head_count_kv", 1)
            .AddTensor("blk.0.attn_q.weight", qg).AddTensor("blk.0.attn_k.weight", kg).AddTensor("blk.0.attn_v.weight", kg)
            .Save(p);
        using var g = GgufFile.Open(p);
        Assert.Equal(q.ToArray<float>(), LlamaQkPermutation.LoadInHfOrder(g, "blk.0.attn_q.weight").ToArray<float>());
        Assert.Equal(k.ToArray<float>(), LlamaQkPermutation.LoadInHfOrder(g, "blk.0.attn_k.weight").ToArray<float>());
        Assert.Equal(kg.ToArray<float>(), LlamaQkPermutation.LoadInHfOrder(g, "blk.0.attn_v.weight").ToArray<float>());
        Assert.NotEqual(q.ToArray<float>(), g.Load("blk.0.attn_q.weight").ToArray<float>());
    }

    [Fact]
    public void Qwen2WeightsAreNotPermuted()
    {
        using var dir = new TempDir();
        string p = dir.File("qwen.gguf");
        using var q = Tensor.FromArray(Enumerable.Range(0, 8).Select(i => (float)i).ToArray(), 4, 2);
        new GgufWriter().AddString("general.architecture", "qwen2").AddUInt32("qwen2.attention.head_count", 1)
            .AddTensor("blk.0.attn_q.weight", q).Save(p);
        using var g = GgufFile.Open(p);
        Assert.Equal(q.ToArray<float>(), LlamaQkPermutation.LoadInHfOrder(g, "blk.0.attn_q.weight").ToArray<float>());
    }
}
