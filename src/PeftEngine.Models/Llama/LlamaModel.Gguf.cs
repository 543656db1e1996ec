using System.Text.RegularExpressions;
using PeftEngine.IO;
using PeftEngine.IO.Gguf;

namespace PeftEngine.Models;

public sealed partial class LlamaModel
{
    /// <summary>The GGUF architectures this model reads (llama.cpp writes Mistral checkpoints as "llama").</summary>
    public static readonly IReadOnlyList<string> GgufArchitectures = ["llama", "mistral", "qwen2"];

    /// <summary>
    /// Loads a LLaMA-family model from a llama.cpp GGUF file: the config from the <c>{arch}.*</c> metadata, the
    /// weights from the <c>token_embd</c> / <c>blk.N.*</c> / <c>output_norm</c> / <c>output</c> tensors (F32, F16,
    /// BF16 or Q8_0, converted to <paramref name="dtype"/>), with llama.cpp's q/k row permutation undone. A
    /// <c>rope_freqs.weight</c> tensor (llama3 rope scaling) divides the rotary frequencies as in llama.cpp; a
    /// missing <c>output.weight</c> means tied embeddings; <c>{arch}.attention.sliding_window</c>, when present,
    /// gives every layer that attention window (Mistral). The model is returned in evaluation mode.
    /// </summary>
    /// <remarks>HF: AutoModelForCausalLM.from_pretrained(dir, gguf_file=...) (which dequantizes likewise).
    /// Errors name the file and the metadata key or tensor.</remarks>
    public static LlamaModel FromGguf(string path, DType dtype = DType.F32) => FromGguf(path, dtype, keepPacked: false);

    private static LlamaModel FromGguf(string path, DType dtype, bool keepPacked)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"LlamaModel.FromGguf: '{path}' does not exist", path);
        using var file = GgufFile.Open(path);
        var config = GgufConfig(file);
        var packed = new HashSet<string>();
        var model = new LlamaModel(config, dtype, null, keepPacked ? PackedLinears(file, config, packed) : null);
        try
        {
            if (file.Contains("rope_freqs.weight"))
            {
                using var factors = file.Load("rope_freqs.weight", DType.F64);   // (D/2)
                var f = factors.ToDoubleArray();
                var inv = RopeScaling.InverseFrequencies(config.HeadDim, config.RopeTheta, null);
                if (f.Length != inv.Length)
                    throw new InvalidDataException($"LlamaModel.FromGguf: 'rope_freqs.weight' in '{path}' has {f.Length} factors, expected head_dim / 2 = {inv.Length}");
                model.Transformer.ReplaceRotary(new LlamaRotaryEmbedding(inv.Select((x, j) => x / f[j]).ToArray(), config.MaxPositionEmbeddings));
            }
            WeightLoader.Load(model, new GgufWeights(file, dtype), "LlamaModel.FromGguf", path, key => key == "rope_freqs.weight" || packed.Contains(key), dtype);
            model.Eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The config a GGUF file describes (transformers' defaults where a key is optional).</summary>
    private static RopeDecoderConfig GgufConfig(GgufFile file)
    {
        if (!file.Has("general.architecture"))
            throw new InvalidDataException($"LlamaModel.FromGguf: '{file.Path}' has no 'general.architecture' metadata");
        string arch = file.Architecture;
        if (!GgufArchitectures.Contains(arch))
            throw new InvalidDataException($"LlamaModel.FromGguf: '{file.Path}' has general.architecture '{arch}', expected one of {string.Join(", ", GgufArchitectures)}");
        int Int(string suffix) => checked((int)(file.ArchInteger(suffix)
            ?? throw new InvalidDataException($"LlamaModel.FromGguf: '{file.Path}' lacks the metadata key '{arch}.{suffix}'")));
        double Number(string suffix, double fallback) => file.Has($"{arch}.{suffix}") ? file.GetNumber($"{arch}.{suffix}") : fallback;
        if (!file.Contains("token_embd.weight"))
            throw new InvalidDataException($"LlamaModel.FromGguf: '{file.Path}' has no tensor 'token_embd.weight'");

        int hidden = Int("embedding_length"), heads = Int("attention.head_count");
        int kvHeads = (int)(file.ArchInteger("attention.head_count_kv") ?? heads);
        int headDim = (int)(file.ArchInteger("attention.key_length") ?? hidden / heads);
        int vocab = (int)(file.ArchInteger("vocab_size") ?? file.Info("token_embd.weight").Shape[0]);
        bool qkvBias = file.Contains("blk.0.attn_q.bias"), oBias = file.Contains("blk.0.attn_output.bias");
        int? eos = file.Has("tokenizer.ggml.eos_token_id") ? (int)file.GetInteger("tokenizer.ggml.eos_token_id") : null;
        int? bos = file.Has("tokenizer.ggml.bos_token_id") ? (int)file.GetInteger("tokenizer.ggml.bos_token_id") : null;
        RopeScaling? scaling = null;   // llama3 scaling comes as the rope_freqs tensor, not as metadata
        string ropeType = file.Has($"{arch}.rope.scaling.type") ? file.GetString($"{arch}.rope.scaling.type") : "none";
        if (ropeType == "linear") scaling = new RopeScaling("linear", Number("rope.scaling.factor", 1.0));
        else if (ropeType != "none")
            throw new NotSupportedException($"LlamaModel.FromGguf: '{file.Path}' has {arch}.rope.scaling.type '{ropeType}'; supported: none, linear (and llama3 through rope_freqs.weight)");
        T Fill<T>() where T : RopeDecoderConfig, new() => new T
        {
            ModelType = arch, VocabSize = vocab, HiddenSize = hidden, NumHiddenLayers = Int("block_count"),
            NumAttentionHeads = heads, NumKeyValueHeads = kvHeads, HeadDimension = headDim,
            IntermediateSize = Int("feed_forward_length"), MaxPositionEmbeddings = Int("context_length"),
            HiddenAct = "silu", RmsNormEps = Number("attention.layer_norm_rms_epsilon", 1e-6),
            RopeTheta = Number("rope.freq_base", 10000), RopeScaling = scaling,
            AttentionBias = qkvBias, OutputProjectionBias = oBias, TieWordEmbeddings = !file.Contains("output.weight"),
            BosTokenId = bos, EosTokenIds = eos is null ? [] : [eos.Value],
        };
        int? window = file.ArchInteger("attention.sliding_window") is long sw ? checked((int)sw) : null;
        if (arch == "qwen2")
            return window is null ? Fill<Qwen2Config>() : Fill<Qwen2Config>() with { UseSlidingWindow = true, SlidingWindow = window };
        return window is null ? Fill<LlamaConfig>() : Fill<MistralConfig>() with { SlidingWindow = window };
    }

    /// <summary>GGUF tensors under llama.cpp's names, loaded in HF row order.</summary>
    private sealed partial class GgufWeights(GgufFile file, DType dtype) : IWeightSource
    {
        public IEnumerable<string> Keys => file.Keys;

        public string? KeyFor(string parameterName)
        {
            string? key = GgufName(parameterName);
            return key is not null && file.Contains(key) ? key : null;
        }

        public Shape ShapeOf(string key) => new(file.Info(key).Shape);

        /// <remarks>Quantized block types (Q4_0 … Q6_K, IQ4_NL) are expanded to F32 first (then cast to the model's dtype).</remarks>
        public Tensor Load(string key, DType _)
        {
            if (Array.IndexOf(Quant.GgufDequantizer.SupportedBlockTypes, file.Info(key).Type) < 0)
                return LlamaQkPermutation.LoadInHfOrder(file, key, dtype);
            var f32 = LlamaQkPermutation.InHfOrder(file, key, Quant.GgufDequantizer.LoadF32(file, key));
            if (dtype == DType.F32) return f32;
            using (f32) return Ops.Cast(f32, dtype);
        }

        /// <summary>HF parameter name -> llama.cpp tensor name (convert_hf_to_gguf's tensor map).</summary>
        public static string? GgufName(string hf)
        {
            switch (hf)
            {
                case "model.embed_tokens.weight": return "token_embd.weight";
                case "model.norm.weight": return "output_norm.weight";
                case "lm_head.weight": return "output.weight";
            }
            var m = LayerName().Match(hf);
            if (!m.Success) return null;
            string part = m.Groups[2].Value switch
            {
                "input_layernorm" => "attn_norm",
                "post_attention_layernorm" => "ffn_norm",
                "self_attn.q_proj" => "attn_q",
                "self_attn.k_proj" => "attn_k",
                "self_attn.v_proj" => "attn_v",
                "self_attn.o_proj" => "attn_output",
                "mlp.gate_proj" => "ffn_gate",
                "mlp.up_proj" => "ffn_up",
                "mlp.down_proj" => "ffn_down",
                _ => "",
            };
            return part.Length == 0 ? null : $"blk.{m.Groups[1].Value}.{part}.{m.Groups[3].Value}";
        }

        [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)\.(weight|bias)$")]
        private static partial Regex LayerName();
    }
}
