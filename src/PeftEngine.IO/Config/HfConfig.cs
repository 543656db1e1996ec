using System.Text.Json;

namespace PeftEngine.IO;

/// <summary>
/// Reads a Hugging Face <c>config.json</c> into the typed record for its <c>model_type</c> (gpt2, llama, mistral,
/// qwen2, bert), filling every field the file leaves out with the default transformers would use.
/// </summary>
/// <remarks>HF transformers: <c>AutoConfig.from_pretrained(path)</c>. Unknown keys are ignored.</remarks>
public static class HfConfig
{
    /// <summary>The model types this reader understands.</summary>
    public static readonly IReadOnlyList<string> SupportedModelTypes = ["gpt2", "llama", "mistral", "qwen2", "bert"];

    /// <summary>Reads <paramref name="path"/> (a config.json, or a folder holding one).</summary>
    public static HfModelConfig Load(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "config.json");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses config text; <paramref name="file"/> names the source in error messages.</summary>
    public static HfModelConfig Parse(string json, string file = "config.json")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }); }
        catch (JsonException e) { throw new InvalidDataException($"model config '{file}': not valid JSON ({e.Message})", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"model config '{file}': expected a JSON object");
            var f = new JsonFields(doc.RootElement, file, "model config");
            string type = f.StringOrNull("model_type")
                ?? throw new InvalidDataException($"model config '{file}': no 'model_type' field; supported types: {string.Join(", ", SupportedModelTypes)}");
            return type switch
            {
                "llama" => Llama(f),
                "mistral" => Mistral(f),
                "qwen2" => Qwen2(f),
                "gpt2" => Gpt2(f),
                "bert" => Bert(f),
                _ => throw new InvalidDataException($"model config '{file}': unsupported model_type '{type}'; supported types: {string.Join(", ", SupportedModelTypes)}"),
            };
        }
    }

    private static T Common<T>(T config, JsonFields f, bool tieDefault) where T : HfModelConfig => (T)(config with
    {
        ModelType = f.StringOrNull("model_type")!,
        Architectures = f.StringList("architectures"),
        TieWordEmbeddings = f.Bool("tie_word_embeddings", tieDefault),
        BosTokenId = f.Has("bos_token_id") ? f.IntOrNull("bos_token_id") : config.BosTokenId,
        EosTokenIds = f.IntList("eos_token_id") ?? config.EosTokenIds,
        PadTokenId = f.Has("pad_token_id") ? f.IntOrNull("pad_token_id") : config.PadTokenId,
        TorchDtype = f.StringOrNull("torch_dtype") ?? f.StringOrNull("dtype"),
    });

    private static T RopeDecoder<T>(T c, JsonFields f, int vocab, int hidden, int inter, int layers, int heads, int? kvHeads,
        int maxPos) where T : RopeDecoderConfig
    {
        hidden = f.Int("hidden_size", hidden);
        heads = f.Int("num_attention_heads", heads);
        if (heads <= 0 || hidden % heads != 0 && !f.Has("head_dim"))
            throw f.Error("num_attention_heads", $"{heads} heads do not divide hidden_size {hidden}");
        return (T)(c with
        {
            VocabSize = f.Int("vocab_size", vocab),
            HiddenSize = hidden,
            IntermediateSize = f.Int("intermediate_size", inter),
            NumHiddenLayers = f.Int("num_hidden_layers", layers),
            NumAttentionHeads = heads,
            NumKeyValueHeads = f.IntOrNull("num_key_value_heads") ?? kvHeads ?? heads,
            HeadDimension = f.IntOrNull("head_dim") ?? hidden / heads,
            MaxPositionEmbeddings = f.Int("max_position_embeddings", maxPos),
            HiddenAct = f.String("hidden_act", "silu"),
            RmsNormEps = f.Double("rms_norm_eps", 1e-6),
            RopeTheta = f.Double("rope_theta", 10000.0),
            RopeScaling = RopeScaling.Read(f),
            AttentionDropout = f.Double("attention_dropout", 0.0),
        });
    }

    private static LlamaConfig Llama(JsonFields f)
    {
        bool bias = f.Bool("attention_bias", false);
        var c = new LlamaConfig
        {
            AttentionBias = bias, OutputProjectionBias = bias, MlpBias = f.Bool("mlp_bias", false),
            PretrainingTp = f.Int("pretraining_tp", 1), BosTokenId = 1, EosTokenIds = [2],
        };
        return Common(RopeDecoder(c, f, 32000, 4096, 11008, 32, 32, null, 2048), f, tieDefault: false);
    }

    private static MistralConfig Mistral(JsonFields f)
    {
        var c = new MistralConfig
        {
            AttentionBias = false, OutputProjectionBias = false, BosTokenId = 1, EosTokenIds = [2],
            SlidingWindow = f.Has("sliding_window") ? f.IntOrNull("sliding_window") : (f.Element.TryGetProperty("sliding_window", out _) ? null : 4096),
        };
        return Common(RopeDecoder(c, f, 32000, 4096, 14336, 32, 32, 8, 4096 * 32), f, tieDefault: false);
    }

    private static Qwen2Config Qwen2(JsonFields f)
    {
        var c = new Qwen2Config
        {
            AttentionBias = true, OutputProjectionBias = false,
            UseSlidingWindow = f.Bool("use_sliding_window", false),
            SlidingWindow = f.Has("sliding_window") ? f.IntOrNull("sliding_window") : (f.Element.TryGetProperty("sliding_window", out _) ? null : 4096),
            MaxWindowLayers = f.Int("max_window_layers", 28),
        };
        return Common(RopeDecoder(c, f, 151936, 4096, 22016, 32, 32, 32, 32768), f, tieDefault: false);
    }

    private static Gpt2Config Gpt2(JsonFields f)
    {
        int embd = f.IntOrNull("n_embd") ?? f.Int("hidden_size", 768);
        int heads = f.IntOrNull("n_head") ?? f.Int("num_attention_heads", 12);
        if (heads <= 0 || embd % heads != 0) throw f.Error("n_head", $"{heads} heads do not divide n_embd {embd}");
        var c = new Gpt2Config
        {
            VocabSize = f.Int("vocab_size", 50257),
            HiddenSize = embd,
            NumHiddenLayers = f.IntOrNull("n_layer") ?? f.Int("num_hidden_layers", 12),
            NumAttentionHeads = heads,
            IntermediateSize = f.IntOrNull("n_inner") ?? 4 * embd,
            MaxPositionEmbeddings = f.IntOrNull("n_positions") ?? f.Int("max_position_embeddings", 1024),
            HiddenAct = f.String("activation_function", "gelu_new"),
            LayerNormEpsilon = f.Double("layer_norm_epsilon", 1e-5),
            ResidPdrop = f.Double("resid_pdrop", 0.1),
            EmbdPdrop = f.Double("embd_pdrop", 0.1),
            AttnPdrop = f.Double("attn_pdrop", 0.1),
            ScaleAttnWeights = f.Bool("scale_attn_weights", true),
            ScaleAttnByInverseLayerIdx = f.Bool("scale_attn_by_inverse_layer_idx", false),
            BosTokenId = 50256,
            EosTokenIds = [50256],
        };
        return Common(c, f, tieDefault: true);
    }

    private static BertConfig Bert(JsonFields f)
    {
        int hidden = f.Int("hidden_size", 768), heads = f.Int("num_attention_heads", 12);
        if (heads <= 0 || hidden % heads != 0) throw f.Error("num_attention_heads", $"{heads} heads do not divide hidden_size {hidden}");
        var c = new BertConfig
        {
            VocabSize = f.Int("vocab_size", 30522),
            HiddenSize = hidden,
            NumHiddenLayers = f.Int("num_hidden_layers", 12),
            NumAttentionHeads = heads,
            IntermediateSize = f.Int("intermediate_size", 3072),
            MaxPositionEmbeddings = f.Int("max_position_embeddings", 512),
            HiddenAct = f.String("hidden_act", "gelu"),
            TypeVocabSize = f.Int("type_vocab_size", 2),
            LayerNormEps = f.Double("layer_norm_eps", 1e-12),
            HiddenDropoutProb = f.Double("hidden_dropout_prob", 0.1),
            AttentionProbsDropoutProb = f.Double("attention_probs_dropout_prob", 0.1),
            PositionEmbeddingType = f.String("position_embedding_type", "absolute"),
            ClassifierDropout = f.DoubleOrNull("classifier_dropout"),
            PadTokenId = 0,
        };
        return Common(c, f, tieDefault: true);
    }
}
