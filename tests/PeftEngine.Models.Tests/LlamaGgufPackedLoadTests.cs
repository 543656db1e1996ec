using PeftEngine.IO;
using PeftEngine.IO.Gguf;
using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Quant;
using Xunit.Abstractions;

namespace PeftEngine.Tests;

/// <summary>Runs alone: it reads the process-wide allocator's peak.</summary>
[CollectionDefinition(nameof(PackedLoadMemoryCollection), DisableParallelization = true)]
public sealed class PackedLoadMemoryCollection;

/// <summary><see cref="LlamaModel.FromGgufPacked"/> builds its packed layers straight from the file: the same model
/// as loading everything in F32 and then swapping each Linear for the file's blocks, without ever allocating the F32
/// weights of the packed layers.</summary>
[Collection(nameof(PackedLoadMemoryCollection))]
public class LlamaGgufPackedLoadTests(ITestOutputHelper output)
{
    /// <summary>llama.cpp's tensor name of an HF Linear / norm / embedding weight (written out here, independently of
    /// the loader's table).</summary>
    private static string GgufName(string hf)
    {
        switch (hf)
        {
            case "model.embed_tokens.weight": return "token_embd.weight";
            case "model.norm.weight": return "output_norm.weight";
            case "lm_head.weight": return "output.weight";
        }
        var p = hf.Split('.');   // model.layers.N.<module>[.<proj>].weight|bias
        string module = string.Join('.', p[3..^1]);
        string part = module switch
        {
            "input_layernorm" => "attn_norm", "post_attention_layernorm" => "ffn_norm",
            "self_attn.q_proj" => "attn_q", "self_attn.k_proj" => "attn_k", "self_attn.v_proj" => "attn_v",
            "self_attn.o_proj" => "attn_output", "mlp.gate_proj" => "ffn_gate", "mlp.up_proj" => "ffn_up",
            "mlp.down_proj" => "ffn_down",
            _ => throw new InvalidOperationException($"no GGUF name for {hf}"),
        };
        return $"blk.{p[2]}.{part}.{p[^1]}";
    }

    /// <summary>The model the former loader built: everything in F32 first, then each Linear whose weight the file
    /// stores packed replaced by a <see cref="GgufLinear"/> over those blocks (q/k rows un-permuted: within a head of
    /// size d, HF row t·d/2 + j is GGUF row 2j + t).</summary>
    private static LlamaModel LoadBySwapping(string path)
    {
        var model = LlamaModel.FromGguf(path);
        using var file = GgufFile.Open(path);
        foreach (var name in model.NamedModules().Where(m => m.Module is Linear).Select(m => m.Name).ToList())
        {
            string key = GgufName(name + ".weight");
            var info = file.Info(key);
            if (info.Type is not (GgmlType.Q4_0 or GgmlType.Q8_0 or GgmlType.Q4_K)) continue;
            var linear = model.GetSubmodule<Linear>(name);
            var packed = GgmlPackedWeight.FromBlocks(info.Type, linear.OutFeatures, linear.InFeatures, file.RawBytes(key));
            int heads = key.Contains(".attn_q.") ? model.Config.NumAttentionHeads : key.Contains(".attn_k.") ? model.Config.NumKeyValueHeads : 0;
            if (heads > 0)
            {
                int rows = linear.OutFeatures, d = rows / heads;
                var source = new int[rows];
                for (int r = 0; r < rows; r++)
                {
                    int h = r / d, within = r % d, t = within / (d / 2), j = within % (d / 2);
                    source[r] = h * d + 2 * j + t;
                }
                using var gguf = packed;
                packed = gguf.GatherRows(source);
            }
            model.ReplaceSubmodule(name, new GgufLinear(packed, linear.Bias?.Data)).Dispose();
        }
        return model;
    }

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    public void DirectlyBuiltModelEqualsTheSwappedOneBitForBit(GgmlType type)
    {
        string path = Path.Combine(Path.GetTempPath(), $"packed-direct-{type}-{Guid.NewGuid():N}.gguf");
        try
        {
            LlamaGgufTests.WriteGguf("llama", path, q4Matrices: true, blockType: type);
            using var direct = LlamaModel.FromGgufPacked(path);
            using var swapped = LoadBySwapping(path);
            Assert.Equal(swapped.NamedModules().Select(m => (m.Name, m.Module.GetType())), direct.NamedModules().Select(m => (m.Name, m.Module.GetType())));
            Assert.Equal(swapped.NamedParameters().Select(p => p.Name), direct.NamedParameters().Select(p => p.Name));
            Assert.Contains(direct.NamedModules(), m => m.Module is GgufLinear);
            foreach (var ((name, a), (_, b)) in swapped.NamedParameters().Zip(direct.NamedParameters()))
                Assert.True(a.Data.ToFloatArray().SequenceEqual(b.Data.ToFloatArray()), $"parameter {name} differs");

            using var ids = Tensor.FromArray(new long[] { 1, 5, 9, 3, 17, 40, 2, 33, 8, 21, 12, 7 }, 2, 6);   // tiled GEMM path
            using var one = Tensor.FromArray(new long[] { 17 }, 1, 1);                                        // int8 dot path
            foreach (var input in new[] { ids, one })
            {
                using var want = swapped.Forward(input);
                using var got = direct.Forward(input);
                Assert.Equal(want.ToFloatArray(), got.ToFloatArray());
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void LoadingNeverAllocatesTheF32WeightsOfPackedLayers()
    {
        var config = new LlamaConfig
        {
            ModelType = "llama", VocabSize = 512, HiddenSize = 256, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, HeadDimension = 64, IntermediateSize = 512, MaxPositionEmbeddings = 64,
            HiddenAct = "silu", RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = false,
        };
        string path = Path.Combine(Path.GetTempPath(), $"packed-memory-{Guid.NewGuid():N}.gguf");
        long packedBlockBytes = 0, packedF32Bytes = 0, otherF32Bytes = 0;
        try
        {
            using (var source = new LlamaModel(config, DType.F32, new Generator(3)))
            {
                var w = new GgufWriter();
                LlamaGgufMetadata.Write(w, config);
                var owned = new List<Tensor>();
                foreach (var (name, p) in source.NamedParameters())
                {
                    string gguf = GgufName(name);
                    var t = p.Data;
                    if (gguf.Contains(".attn_q.") || gguf.Contains(".attn_k."))
                        owned.Add(t = LlamaQkPermutation.Apply(t, gguf.Contains(".attn_q.") ? config.NumAttentionHeads : config.NumKeyValueHeads));
                    if (t.Rank == 2 && gguf != "token_embd.weight")
                    {
                        w.AddRaw(gguf, GgmlType.Q4_0, t.Shape.ToArray(), GgmlLegacyBlocks.QuantizeQ4_0(t.ToFloatArray()));
                        packedBlockBytes += t.Numel / 32 * 18;   // Q4_0: 18 bytes per 32 weights
                        packedF32Bytes += t.Numel * 4;
                    }
                    else
                    {
                        w.AddTensor(gguf, t);
                        otherF32Bytes += t.Numel * 4;
                    }
                }
                w.Save(path);
                foreach (var t in owned) t.Dispose();
            }

            GC.Collect();
            GC.WaitForPendingFinalizers();   // storages other tests left to the finalizer go back before the measurement
            var allocator = HostAllocator.Shared;
            long before = allocator.BytesInUse;
            allocator.ResetPeak();
            using var model = LlamaModel.FromGgufPacked(path);
            long peak = allocator.PeakBytesInUse - before;

            // the model holds exactly the file's blocks plus the F32 embedding and norms
            long heldBlocks = model.NamedModules().Select(m => m.Module).OfType<GgufLinear>().Sum(l => l.Weight.ByteCount);
            long heldF32 = model.NamedParameters().Sum(p => p.Parameter.Numel * p.Parameter.DType.SizeOf());
            output.WriteLine($"packed blocks {heldBlocks} B (F32 would be {packedF32Bytes} B), F32 parameters {heldF32} B, " +
                             $"host tensor peak while loading {peak} B");
            Assert.Equal(packedBlockBytes, heldBlocks);
            Assert.Equal(otherF32Bytes, heldF32);
            Assert.True(heldBlocks + heldF32 < 0.3 * (packedF32Bytes + otherF32Bytes), "the loaded model is not much smaller than in F32");
            // loading allocates the unpacked tensors (and one transient copy of each) but nothing of the packed
            // layers' size in F32: the former loader peaked above packedF32Bytes + otherF32Bytes
            Assert.True(peak < 2 * otherF32Bytes + (256 << 10), $"loading peaked at {peak} host bytes; unpacked F32 tensors take {otherF32Bytes}");
            Assert.True(peak < packedF32Bytes / 2);
        }
        finally { File.Delete(path); }
    }
}
