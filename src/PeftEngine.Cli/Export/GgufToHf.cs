using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftEngine.IO;
using PeftEngine.IO.Gguf;
using PeftEngine.IO.Tokenizers;

namespace PeftEngine.Cli.Export;

/// <summary>
/// What a GGUF file needs to become a Hugging Face folder besides its weights: a <c>config.json</c> from the model's
/// config and a <c>tokenizer.json</c> from the <c>tokenizer.ggml.*</c> metadata (byte-level BPE vocabularies, the
/// "gpt2" tokenizer model of llama.cpp, and SentencePiece BPE vocabularies with scores, "llama").
/// </summary>
/// <remarks>HF: transformers' GGUF loading (config and tokenizer built from the metadata) followed by
/// save_pretrained.</remarks>
public static class GgufToHf
{
    /// <summary>The config.json text of a LLaMA-family config.</summary>
    public static string ConfigJson(RopeDecoderConfig config)
    {
        var (architecture, type) = config switch
        {
            MistralConfig => ("MistralForCausalLM", "mistral"),
            Qwen2Config => ("Qwen2ForCausalLM", "qwen2"),
            _ => ("LlamaForCausalLM", "llama"),
        };
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(architecture),
            ["model_type"] = type,
            ["vocab_size"] = config.VocabSize,
            ["hidden_size"] = config.HiddenSize,
            ["intermediate_size"] = config.IntermediateSize,
            ["num_hidden_layers"] = config.NumHiddenLayers,
            ["num_attention_heads"] = config.NumAttentionHeads,
            ["num_key_value_heads"] = config.NumKeyValueHeads,
            ["head_dim"] = config.HeadDim,
            ["hidden_act"] = string.IsNullOrEmpty(config.HiddenAct) ? "silu" : config.HiddenAct,
            ["max_position_embeddings"] = config.MaxPositionEmbeddings,
            ["rms_norm_eps"] = config.RmsNormEps,
            ["rope_theta"] = config.RopeTheta,
            ["attention_bias"] = config.AttentionBias,
            ["mlp_bias"] = config.MlpBias,
            ["tie_word_embeddings"] = config.TieWordEmbeddings,
        };
        if (config.RopeScaling is { } rs)
        {
            if (rs.RopeType != "linear")
                throw new NotSupportedException($"export: rope scaling '{rs.RopeType}' from a GGUF file cannot be written back as config.json (linear can)");
            json["rope_scaling"] = new JsonObject { ["rope_type"] = "linear", ["type"] = "linear", ["factor"] = rs.Factor };
        }
        switch (config)
        {
            case MistralConfig { SlidingWindow: int window }: json["sliding_window"] = window; break;
            case Qwen2Config { SlidingWindow: int qwenWindow } q:
                json["sliding_window"] = qwenWindow;
                json["use_sliding_window"] = q.UseSlidingWindow;
                break;
        }
        if (config.BosTokenId is int bos) json["bos_token_id"] = bos;
        if (config.EosTokenIds.Length == 1) json["eos_token_id"] = config.EosTokenIds[0];
        else if (config.EosTokenIds.Length > 1) json["eos_token_id"] = new JsonArray(config.EosTokenIds.Select(i => (JsonNode)i).ToArray());
        if (config.PadTokenId is int pad) json["pad_token_id"] = pad;
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>The tokenizer.json text of a GGUF vocabulary. Byte-level BPE ("gpt2"): control and user-defined
    /// tokens become added (special) tokens at their own ids, the pre-tokenizer regex follows
    /// <c>tokenizer.ggml.pre</c>, and a BOS is prepended when <c>tokenizer.ggml.add_bos_token</c> says so.
    /// SentencePiece BPE ("llama"): see <see cref="SentencePieceTokenizerJson.FromGguf"/>.</summary>
    /// <param name="data">The tokenizer metadata.</param>
    /// <param name="addSpacePrefix">SentencePiece only: <c>tokenizer.ggml.add_space_prefix</c>.</param>
    public static string TokenizerJson(GgufTokenizerData data, bool addSpacePrefix = true)
    {
        if (data.Model == "llama") return SentencePieceTokenizerJson.FromGguf(data, addSpacePrefix);
        if (data.Model != "gpt2")
            throw new NotSupportedException($"export: GGUF tokenizer model '{data.Model}' cannot be written as tokenizer.json (byte-level BPE 'gpt2' and SentencePiece 'llama' can)");
        if (data.Merges is null) throw new InvalidDataException("export: the GGUF byte-level BPE vocabulary has no tokenizer.ggml.merges");
        string pattern = (data.Pre ?? "gpt-2") switch
        {
            "gpt-2" or "default" => PreTokenizerPatterns.Gpt2,
            "llama-bpe" or "llama3" or "llama-v3" or "smaug-bpe" => PreTokenizerPatterns.Llama3,
            "qwen2" => PreTokenizerPatterns.Qwen2,
            var other => throw new NotSupportedException($"export: GGUF pre-tokenizer '{other}' is not supported (gpt-2, llama-bpe, qwen2 are)"),
        };
        var added = new List<AddedToken>();
        for (int id = 0; id < data.Tokens.Length; id++)
        {
            int type = data.TokenTypes?[id] ?? 1;
            if (type is 3 or 4) added.Add(new AddedToken(id, data.Tokens[id], Special: type == 3));   // control and user-defined tokens
        }
        AddedToken? bos = data.AddBosToken == true && data.BosTokenId is int bosId ? new AddedToken(bosId, data.Tokens[bosId]) : null;
        using var buffer = new MemoryStream();
        ByteLevelTokenizerJson.Write(buffer, added, pattern, data.Tokens, data.Merges,
            ignoreMerges: pattern == PreTokenizerPatterns.Llama3, bos);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Special ids of the vocabulary as "name id" text for messages.</summary>
    public static string Describe(GgufTokenizerData data) => string.Create(CultureInfo.InvariantCulture,
        $"{data.Model} vocabulary of {data.Tokens.Length} tokens, {data.Merges?.Length ?? 0} merges, pre-tokenizer {data.Pre ?? "gpt-2"}");
}
