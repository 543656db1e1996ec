using PeftEngine.IO;
using PeftEngine.IO.Gguf;
using PeftEngine.IO.Safetensors;
using PeftEngine.Models;

namespace PeftEngine.Tests;

/// <summary>The same tiny model from safetensors and from a GGUF file written as llama.cpp's converter does
/// (tensor names, q/k row permutation, rope_freqs for llama3 scaling) gives the same logits.</summary>
public class LlamaGgufTests
{
    /// <summary>convert_hf_to_gguf's names for the HF tensors of one layer (written out here, independently of
    /// the loader's table).</summary>
    private static readonly (string Hf, string Gguf)[] LayerNames =
    [
        ("input_layernorm.weight", "attn_norm.weight"), ("post_attention_layernorm.weight", "ffn_norm.weight"),
        ("self_attn.q_proj.weight", "attn_q.weight"), ("self_attn.k_proj.weight", "attn_k.weight"),
        ("self_attn.v_proj.weight", "attn_v.weight"), ("self_attn.o_proj.weight", "attn_output.weight"),
        ("self_attn.q_proj.bias", "attn_q.bias"), ("self_attn.k_proj.bias", "attn_k.bias"), ("self_attn.v_proj.bias", "attn_v.bias"),
        ("mlp.gate_proj.weight", "ffn_gate.weight"), ("mlp.up_proj.weight", "ffn_up.weight"), ("mlp.down_proj.weight", "ffn_down.weight"),
    ];

    /// <summary>Writes the fixture <paramref name="name"/> as a GGUF file the way llama.cpp would.</summary>
    internal static void WriteGguf(string name, string path, string? architecture = null, DType? matrixDType = null, bool q4Matrices = false,
        GgmlType blockType = GgmlType.Q4_0,
        Action<GgufWriter, string>? extraMetadata = null)
    {
        var config = (RopeDecoderConfig)HfConfig.Load(Path.Combine(LlamaFixture.Directory(name), "config.json"));
        string arch = architecture ?? (config.ModelType == "qwen2" ? "qwen2" : "llama");   // Mistral is written as llama
        bool permute = arch == "llama";
        var w = new GgufWriter();
        LlamaGgufMetadata.Write(w, config, arch);

        var owned = new List<Tensor>();
        using var st = SafetensorsFile.Open(Path.Combine(LlamaFixture.Directory(name), "model.safetensors"));
        void Add(string gguf, string hf, int? permuteHeads = null)
        {
            if (!st.Contains(hf)) return;
            var t = st.Load(hf);
            owned.Add(t);
            if (permute && permuteHeads is int heads) { t = LlamaQkPermutation.Apply(t, heads); owned.Add(t); }
            if (matrixDType is DType md && t.Rank == 2) { t = Ops.Cast(t, md); owned.Add(t); }   // as llama.cpp's f16 / bf16 outtypes
            if (q4Matrices && t.Rank == 2 && t.Shape[1] % 32 == 0)                                  // as llama.cpp's q4_0 outtype
                w.AddRaw(gguf, blockType, t.Shape.ToArray(), blockType == GgmlType.Q8_0
                    ? GgufQuants.QuantizeQ8_0(t.ToFloatArray()) : Quant.GgmlLegacyBlocks.QuantizeQ4_0(t.ToFloatArray()));
            else w.AddTensor(gguf, t);
        }
        Add("token_embd.weight", "model.embed_tokens.weight");
        Add("output_norm.weight", "model.norm.weight");
        Add("output.weight", "lm_head.weight");
        for (int i = 0; i < config.NumHiddenLayers; i++)
            foreach (var (hf, gguf) in LayerNames)
                Add($"blk.{i}.{gguf}", $"model.layers.{i}.{hf}",
                    gguf.StartsWith("attn_q.") ? config.NumAttentionHeads : gguf.StartsWith("attn_k.") ? config.NumKeyValueHeads : null);
        if (config.RopeScaling is { RopeType: "llama3" } rs)
        {
            // llama.cpp's converter: one factor per frequency, 1 (kept), factor (scaled) or the blend in between
            double lowWave = rs.OriginalMaxPositionEmbeddings!.Value / rs.LowFreqFactor!.Value;
            double highWave = rs.OriginalMaxPositionEmbeddings!.Value / rs.HighFreqFactor!.Value;
            var factors = new float[config.HeadDim / 2];
            for (int j = 0; j < factors.Length; j++)
            {
                double freq = 1.0 / Math.Pow(config.RopeTheta, 2.0 * j / config.HeadDim);
                double wave = 2 * Math.PI / freq;
                if (wave < highWave) factors[j] = 1;
                else if (wave > lowWave) factors[j] = (float)rs.Factor;
                else
                {
                    double smooth = (rs.OriginalMaxPositionEmbeddings!.Value / wave - rs.LowFreqFactor!.Value) / (rs.HighFreqFactor!.Value - rs.LowFreqFactor!.Value);
                    factors[j] = (float)(1 / ((1 - smooth) / rs.Factor + smooth));
                }
            }
            var f = Tensor.FromArray(factors, factors.Length);
            owned.Add(f);
            w.AddTensor("rope_freqs.weight", f);
        }
        extraMetadata?.Invoke(w, arch);
        w.Save(path);
        foreach (var t in owned) t.Dispose();
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("mistral")]
    public void GgufAndSafetensorsGiveTheSameLogits(string name)
    {
        string path = Path.Combine(Path.GetTempPath(), $"{name}-{Guid.NewGuid():N}.gguf");
        try
        {
            WriteGguf(name, path);
            using var expected = LlamaFixture.OpenExpected(name);
            using var ids = expected.Load("ids");
            using var fromSafetensors = LlamaModel.FromPretrained(LlamaFixture.Directory(name));
            using var fromGguf = LlamaModel.FromGguf(path);
            Assert.Equal(fromSafetensors.Config.TieWordEmbeddings, fromGguf.Config.TieWordEmbeddings);
            Assert.Equal(fromSafetensors.NamedParameters().Select(p => p.Name), fromGguf.NamedParameters().Select(p => p.Name));
            using var want = fromSafetensors.Forward(ids);
            using var got = fromGguf.Forward(ids);
            // rope_freqs is stored in float32, so llama3-scaled angles differ by ~1e-7 relative
            TestData.AssertClose(want.ToDoubleArray(), got.ToDoubleArray(), atol: 1e-5, rtol: 1e-5, what: name + " logits");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Q4_0GgufMatricesLoadAsTheirDequantizedBlocks()
    {
        string path = Path.Combine(Path.GetTempPath(), $"q4-{Guid.NewGuid():N}.gguf");
        try
        {
            WriteGguf("llama", path, q4Matrices: true);
            using var fromGguf = LlamaModel.FromGguf(path);
            using var reference = LlamaModel.FromPretrained(LlamaFixture.Directory("llama"));
            int quantized = 0;
            var got = fromGguf.NamedParameters().ToDictionary(np => np.Name, np => np.Parameter);
            foreach (var (pname, p) in reference.NamedParameters())
            {
                var want = p.Data.ToFloatArray();
                if (p.Data.Rank == 2 && p.Data.Shape[1] % 32 == 0)
                {
                    // Row permutation (q/k) moves whole rows, so each row's blocks are those of the HF weight.
                    var expanded = new float[want.Length];
                    Quant.GgmlLegacyBlocks.DequantizeQ4_0(Quant.GgmlLegacyBlocks.QuantizeQ4_0(want), expanded);
                    want = expanded;
                    quantized++;
                }
                Assert.Equal(want, got[pname].Data.ToFloatArray());
            }
            Assert.True(quantized >= 8, $"only {quantized} matrices were stored as Q4_0");
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void HalfPrecisionGgufMatricesLoadAsTheRoundedWeights(DType storage)
    {
        string path = Path.Combine(Path.GetTempPath(), $"half-{Guid.NewGuid():N}.gguf");
        try
        {
            WriteGguf("llama", path, matrixDType: storage);
            using var fromGguf = LlamaModel.FromGguf(path);
            using var rounded = LlamaModel.FromPretrained(LlamaFixture.Directory("llama"));
            using (GradMode.Disable())
                foreach (var (_, p) in rounded.NamedParameters().Where(np => np.Parameter.Data.Rank == 2))
                {
                    using var half = Ops.Cast(p.Data, storage);
                    using var back = Ops.Cast(half, DType.F32);
                    Ops.CopyInPlace(p.Data, back);
                }
            var want = rounded.NamedParameters().ToDictionary(np => np.Name, np => np.Parameter);
            foreach (var (pname, p) in fromGguf.NamedParameters())
                Assert.Equal(want[pname].Data.ToDoubleArray(), p.Data.ToDoubleArray());
            using var ids = Tensor.FromArray(new long[] { 3, 1, 4, 1, 5, 9 }, 1, 6);
            using var a = rounded.Forward(ids);
            using var b = fromGguf.Forward(ids);
            TestData.AssertClose(a.ToDoubleArray(), b.ToDoubleArray(), atol: 1e-5, rtol: 1e-5, what: storage.Name());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TheStoredQueryRowsArePermutedSoTheTestWouldNoticeAMissingUndo()
    {
        string path = Path.Combine(Path.GetTempPath(), $"perm-{Guid.NewGuid():N}.gguf");
        try
        {
            WriteGguf("llama", path);
            using var gguf = GgufFile.Open(path);
            using var st = SafetensorsFile.Open(Path.Combine(LlamaFixture.Directory("llama"), "model.safetensors"));
            using var stored = gguf.Load("blk.0.attn_q.weight");
            using var hf = st.Load("model.layers.0.self_attn.q_proj.weight");
            Assert.NotEqual(hf.ToDoubleArray(), stored.ToDoubleArray());
            using var undone = LlamaQkPermutation.LoadInHfOrder(gguf, "blk.0.attn_q.weight");
            Assert.Equal(hf.ToDoubleArray(), undone.ToDoubleArray());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AnUnknownArchitectureOrAMissingKeyIsNamed()
    {
        string path = Path.Combine(Path.GetTempPath(), $"bad-{Guid.NewGuid():N}.gguf");
        try
        {
            WriteGguf("llama", path, architecture: "falcon");
            var e = Assert.Throws<InvalidDataException>(() => LlamaModel.FromGguf(path));
            Assert.Contains("falcon", e.Message);
            Assert.Contains(path, e.Message);

            var w = new GgufWriter();
            w.AddString("general.architecture", "llama");
            using (var t = Tensor.Zeros(new Shape(4, 8))) w.AddTensor("token_embd.weight", t);
            w.Save(path);
            e = Assert.Throws<InvalidDataException>(() => LlamaModel.FromGguf(path));
            Assert.Contains("llama.embedding_length", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void GgufRopeScalingLinearIsAppliedAndYarnIsRefused()
    {
        string linear = Path.Combine(Path.GetTempPath(), $"linear-{Guid.NewGuid():N}.gguf");
        string yarn = Path.Combine(Path.GetTempPath(), $"yarn-{Guid.NewGuid():N}.gguf");
        try
        {
            WriteGguf("llama", linear, extraMetadata: (w, arch) =>
            {
                w.AddString($"{arch}.rope.scaling.type", "linear");
                w.AddFloat32($"{arch}.rope.scaling.factor", 4);
            });
            using (var model = LlamaModel.FromGguf(linear))
            {
                Assert.Equal(new RopeScaling("linear", 4), model.Config.RopeScaling);
                var plain = RopeScaling.InverseFrequencies(model.Config.HeadDim, model.Config.RopeTheta, null);
                Assert.Equal(plain.Select(f => f / 4), model.Config.RopeInverseFrequencies());
            }
            WriteGguf("llama", yarn, extraMetadata: (w, arch) =>
            {
                w.AddString($"{arch}.rope.scaling.type", "yarn");
                w.AddFloat32($"{arch}.rope.scaling.factor", 4);
                w.AddUInt32($"{arch}.rope.scaling.original_context_length", 64);
            });
            var e = Assert.Throws<NotSupportedException>(() => LlamaModel.FromGguf(yarn));
            Assert.Contains("rope.scaling.type 'yarn'", e.Message);
        }
        finally
        {
            File.Delete(linear);
            File.Delete(yarn);
        }
    }
}
