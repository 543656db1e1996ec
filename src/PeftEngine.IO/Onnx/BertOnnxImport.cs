using System.Text;
using System.Text.Json;
using PeftEngine.IO.Safetensors;

namespace PeftEngine.IO.Onnx;

/// <summary>The result of <see cref="BertOnnxImporter.Convert"/>: the HF config, the state dict under HF names
/// (<c>encoder.layer.0.attention.self.query.weight</c>, [out, in]), and which anonymous initializers got which
/// name. Disposing it disposes the tensors.</summary>
public sealed class BertOnnxImport(BertConfig config, IReadOnlyDictionary<string, Tensor> weights,
    IReadOnlyList<(string Stored, string Name)> renamed) : IDisposable
{
    /// <summary>The configuration recovered from the graph.</summary>
    public BertConfig Config { get; } = config;

    /// <summary>The tensors under HF BertModel names (no <c>bert.</c> prefix).</summary>
    public IReadOnlyDictionary<string, Tensor> Weights { get; } = weights;

    /// <summary>Anonymous initializer name -> HF name, in graph order.</summary>
    public IReadOnlyList<(string Stored, string Name)> Renamed { get; } = renamed;

    /// <summary>
    /// Writes an HF BERT folder: <c>config.json</c>, <c>model.safetensors</c> and, when given, <c>vocab.txt</c>
    /// with a <c>tokenizer_config.json</c> (uncased WordPiece). Each file is written atomically.
    /// </summary>
    /// <remarks>HF: model.save_pretrained(dir) + tokenizer.save_pretrained(dir).</remarks>
    public void SaveHfFolder(string directory, byte[]? vocabTxt = null, bool lowercase = true, int? modelMaxLength = null)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.Write(Path.Combine(directory, "config.json"), s => s.Write(ConfigJson()));
        SafetensorsWriter.Save(Path.Combine(directory, "model.safetensors"), Weights, new Dictionary<string, string> { ["format"] = "pt" });
        if (vocabTxt is null) return;
        AtomicFile.Write(Path.Combine(directory, "vocab.txt"), s => s.Write(vocabTxt));
        AtomicFile.Write(Path.Combine(directory, "tokenizer_config.json"), s =>
        {
            using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true });
            w.WriteStartObject();
            w.WriteString("tokenizer_class", "BertTokenizer");
            w.WriteBoolean("do_lower_case", lowercase);
            if (modelMaxLength is int max) w.WriteNumber("model_max_length", max);
            w.WriteString("unk_token", "[UNK]");
            w.WriteString("sep_token", "[SEP]");
            w.WriteString("pad_token", "[PAD]");
            w.WriteString("cls_token", "[CLS]");
            w.WriteString("mask_token", "[MASK]");
            w.WriteEndObject();
        });
    }

    /// <summary>The config in transformers' field names.</summary>
    public byte[] ConfigJson()
    {
        var c = Config;
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model_type", "bert");
            w.WriteStartArray("architectures");
            w.WriteStringValue("BertModel");
            w.WriteEndArray();
            w.WriteNumber("vocab_size", c.VocabSize);
            w.WriteNumber("hidden_size", c.HiddenSize);
            w.WriteNumber("num_hidden_layers", c.NumHiddenLayers);
            w.WriteNumber("num_attention_heads", c.NumAttentionHeads);
            w.WriteNumber("intermediate_size", c.IntermediateSize);
            w.WriteString("hidden_act", c.HiddenAct);
            w.WriteNumber("hidden_dropout_prob", c.HiddenDropoutProb);
            w.WriteNumber("attention_probs_dropout_prob", c.AttentionProbsDropoutProb);
            w.WriteNumber("max_position_embeddings", c.MaxPositionEmbeddings);
            w.WriteNumber("type_vocab_size", c.TypeVocabSize);
            w.WriteNumber("initializer_range", 0.02);
            w.WriteNumber("layer_norm_eps", c.LayerNormEps);
            w.WriteNumber("pad_token_id", c.PadTokenId ?? 0);
            w.WriteString("position_embedding_type", "absolute");
            w.WriteString("torch_dtype", "float32");
            w.WriteEndObject();
        }
        ms.Write(Encoding.UTF8.GetBytes("\n"));
        return ms.ToArray();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in Weights.Values) t.Dispose();
    }
}
