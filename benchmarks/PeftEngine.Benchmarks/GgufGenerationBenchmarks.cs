using System.Text.RegularExpressions;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using PeftEngine.IO;
using PeftEngine.IO.Gguf;
using PeftEngine.Models;
using PeftEngine.Models.Generation;
using PeftEngine.Quant;

namespace PeftEngine.Benchmarks;

/// <summary>
/// Greedy generation (KV cache, batch 1) from a randomly initialised LLaMA (hidden 1024, 4 layers, FFN 2816,
/// vocabulary 4096: 60 M parameters, 240 MB in F32) written to a GGUF file with Q8_0 or Q4_0 matrices, loaded either
/// dequantized to F32 (<see cref="LlamaModel.FromGguf(string, DType)"/>) or packed
/// (<see cref="LlamaModel.FromGgufPacked"/>). One call = an 8-token prompt plus 32 new tokens; tokens/s counts the new ones.
/// </summary>
[Config(typeof(NewTokensConfig))]
public partial class GgufGenerationBenchmarks
{
    private const int NewTokens = 32;

    /// <summary>Block type of the file's matrices.</summary>
    [Params("Q8_0", "Q4_0")]
    public string Format { get; set; } = "Q4_0";

    /// <summary>True: matrices kept packed; false: expanded to F32 on load.</summary>
    [Params(false, true)]
    public bool Packed { get; set; }

    private LlamaModel? _model;
    private Tensor? _prompt;
    private string _path = "";

    [GlobalSetup]
    public void Setup()
    {
        var config = new LlamaConfig
        {
            ModelType = "llama", VocabSize = 4096, HiddenSize = 1024, NumHiddenLayers = 4, NumAttentionHeads = 16,
            NumKeyValueHeads = 8, HeadDimension = 64, IntermediateSize = 2816, MaxPositionEmbeddings = 256,
            HiddenAct = "silu", RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = false,
        };
        _path = Path.Combine(Path.GetTempPath(), $"bench-{Format}-{Guid.NewGuid():N}.gguf");
        using (var source = new LlamaModel(config, DType.F32, new Generator(7)))
            Write(source, config, Enum.Parse<GgmlType>(Format), _path);
        _model = Packed ? LlamaModel.FromGgufPacked(_path) : LlamaModel.FromGguf(_path);
        _prompt = Tensor.FromArray(new long[] { 1, 17, 230, 4000, 12, 99, 512, 3 }, 1, 8);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _model?.Dispose();
        _prompt?.Dispose();
        File.Delete(_path);
    }

    /// <summary>8-token prompt, 32 greedy tokens.</summary>
    [Benchmark]
    public GenerationResult Generate() =>
        TextGeneration.Generate(_model!, _prompt!, new GenerationConfig { MaxNewTokens = NewTokens, DoSample = false });

    /// <summary>Writes the model under llama.cpp's tensor names (q/k rows permuted as its converter does), every
    /// matrix with 32-divisible rows of input in <paramref name="type"/>.</summary>
    private static void Write(LlamaModel model, LlamaConfig config, GgmlType type, string path)
    {
        var w = new GgufWriter();
        LlamaGgufMetadata.Write(w, config);
        var owned = new List<Tensor>();
        foreach (var (name, p) in model.NamedParameters())
        {
            string gguf = GgufName(name);
            var t = p.Data;
            if (gguf.Contains(".attn_q.") || gguf.Contains(".attn_k."))
            {
                t = LlamaQkPermutation.Apply(t, gguf.Contains(".attn_q.") ? config.NumAttentionHeads : config.NumKeyValueHeads);
                owned.Add(t);
            }
            if (t.Rank == 2 && gguf != "token_embd.weight")
            {
                var values = t.ToFloatArray();
                w.AddRaw(gguf, type, t.Shape.ToArray(), type == GgmlType.Q8_0 ? GgufQuants.QuantizeQ8_0(values) : GgmlLegacyBlocks.QuantizeQ4_0(values));
            }
            else w.AddTensor(gguf, t);
        }
        w.Save(path);
        foreach (var t in owned) t.Dispose();
    }

    private static string GgufName(string hf)
    {
        switch (hf)
        {
            case "model.embed_tokens.weight": return "token_embd.weight";
            case "model.norm.weight": return "output_norm.weight";
            case "lm_head.weight": return "output.weight";
        }
        var m = LayerKey().Match(hf);
        string part = m.Groups[2].Value switch
        {
            "input_layernorm" => "attn_norm", "post_attention_layernorm" => "ffn_norm",
            "self_attn.q_proj" => "attn_q", "self_attn.k_proj" => "attn_k", "self_attn.v_proj" => "attn_v",
            "self_attn.o_proj" => "attn_output", "mlp.gate_proj" => "ffn_gate", "mlp.up_proj" => "ffn_up",
            "mlp.down_proj" => "ffn_down",
            _ => throw new InvalidOperationException($"no GGUF name for {hf}"),
        };
        return $"blk.{m.Groups[1].Value}.{part}.weight";
    }

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)\.weight$")]
    private static partial Regex LayerKey();

    private sealed class NewTokensConfig : ManualConfig
    {
        public NewTokensConfig() => AddColumn(new ThroughputColumn("tokens/s", _ => NewTokens));
    }
}
