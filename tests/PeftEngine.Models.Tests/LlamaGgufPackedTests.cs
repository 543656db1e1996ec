using PeftEngine.IO.Gguf;
using PeftEngine.Models;
using PeftEngine.Quant;
using Xunit.Abstractions;

namespace PeftEngine.Tests;

/// <summary>A Q8_0 / Q4_0 GGUF of the tiny LLaMA loaded with its matrices kept packed: the packed layers hold exactly
/// the file's blocks, and the logits stay close to those of the same file loaded dequantized.</summary>
public class LlamaGgufPackedTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    public void PackedModelHoldsTheBlocksAndMatchesTheDequantizedModel(GgmlType type)
    {
        string path = Path.Combine(Path.GetTempPath(), $"packed-{type}-{Guid.NewGuid():N}.gguf");
        try
        {
            LlamaGgufTests.WriteGguf("llama", path, q4Matrices: true, blockType: type);
            using var packed = LlamaModel.FromGgufPacked(path);
            using var dense = LlamaModel.FromGguf(path);

            // every matrix stored in a packable type is a GgufLinear holding the file's bytes, and nothing else
            using var file = GgufFile.Open(path);
            var layers = packed.NamedModules().Where(m => m.Module is GgufLinear).ToList();
            // (the token embedding is stored in the block type too, but it is a lookup table, expanded as before)
            var packedInFile = file.Tensors.Where(t => t.Type == type && t.Name != "token_embd.weight").ToList();
            int expectedPacked = packedInFile.Count;
            Assert.Equal(expectedPacked, layers.Count);
            Assert.True(layers.Count >= 13, $"only {layers.Count} packed layers");
            long bytes = layers.Sum(l => ((GgufLinear)l.Module).Weight.ByteCount);
            long fileBytes = packedInFile.Sum(t => (long)file.RawBytes(t.Name).Length);
            Assert.Equal(fileBytes, bytes);
            Assert.DoesNotContain(packed.NamedParameters(), p => p.Name.EndsWith("q_proj.weight"));
            Assert.Contains(packed.NamedParameters(), p => p.Name.EndsWith("down_proj.weight"));   // 40 columns: stays F32

            // the same row order as the dequantized loader (q/k rows un-permuted on the packed blocks)
            foreach (var (name, module) in layers)
            {
                using var w = ((GgufLinear)module).Dequantize();
                var want = dense.GetSubmodule<Nn.Linear>(name).Weight.Data.ToFloatArray();
                Assert.Equal(want, w.ToFloatArray());
            }

            // a whole sequence (many rows: dequantized tiles into the F32 GEMM) equals the dense model up to rounding
            using var ids = Tensor.FromArray(new long[] { 1, 5, 9, 3, 17, 40, 2, 33, 8, 21, 12, 7 }, 2, 6);
            using var want1 = dense.Forward(ids);
            using var got1 = packed.Forward(ids);
            double errTiled = MaxAbs(want1, got1);
            // one token per call (one row: int8 activations and integer dot products, as in generation)
            using var one = Tensor.FromArray(new long[] { 17 }, 1, 1);
            using var want2 = dense.Forward(one);
            using var got2 = packed.Forward(one);
            double errRow = MaxAbs(want2, got2), scale = want2.ToFloatArray().Max(Math.Abs);
            output.WriteLine($"{type}: {layers.Count} packed layers, {bytes} bytes; max |logit diff| sequence (tiled F32) = {errTiled:E2}, " +
                             $"single token (int8 activations) = {errRow:E2} (max |logit| {scale:F3})");
            Assert.True(errTiled < 1e-4, $"tiled path differs by {errTiled}");
            Assert.True(errRow < 0.02 * scale + 1e-3, $"int8-activation path differs by {errRow} (logit scale {scale})");
        }
        finally { File.Delete(path); }
    }

    private static double MaxAbs(Tensor a, Tensor b)
    {
        var (x, y) = (a.ToFloatArray(), b.ToFloatArray());
        double m = 0;
        for (int i = 0; i < x.Length; i++) m = Math.Max(m, Math.Abs(x[i] - y[i]));
        return m;
    }
}
