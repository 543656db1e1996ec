using PeftEngine.IO;
using PeftEngine.IO.Gguf;

namespace PeftEngine.Models;

/// <summary>
/// The hyperparameter metadata of a LLaMA-family GGUF file, as llama.cpp's converter writes it: the inverse of what
/// <see cref="LlamaModel.FromGguf(string, DType)"/> reads back into a config.
/// </summary>
/// <remarks>llama.cpp: convert_hf_to_gguf.py, Model.set_gguf_parameters.</remarks>
public static class LlamaGgufMetadata
{
    /// <summary>Adds <c>general.architecture</c> and the <c>{arch}.*</c> keys (layers, context, widths, heads, head
    /// dimension, RoPE base, RMSNorm epsilon, vocabulary size, and a Mistral config's sliding window).</summary>
    /// <param name="w">The file being written.</param>
    /// <param name="config">The model's config.</param>
    /// <param name="arch">The architecture name ("llama", "qwen2", ...); llama.cpp writes Mistral as "llama".</param>
    public static void Write(GgufWriter w, RopeDecoderConfig config, string arch = "llama")
    {
        w.AddString("general.architecture", arch);
        w.AddUInt32($"{arch}.block_count", (uint)config.NumHiddenLayers);
        w.AddUInt32($"{arch}.context_length", (uint)config.MaxPositionEmbeddings);
        w.AddUInt32($"{arch}.embedding_length", (uint)config.HiddenSize);
        w.AddUInt32($"{arch}.feed_forward_length", (uint)config.IntermediateSize);
        w.AddUInt32($"{arch}.attention.head_count", (uint)config.NumAttentionHeads);
        w.AddUInt32($"{arch}.attention.head_count_kv", (uint)config.NumKeyValueHeads);
        w.AddUInt32($"{arch}.rope.dimension_count", (uint)config.HeadDim);
        w.AddFloat32($"{arch}.rope.freq_base", (float)config.RopeTheta);
        w.AddFloat32($"{arch}.attention.layer_norm_rms_epsilon", (float)config.RmsNormEps);
        w.AddUInt32($"{arch}.vocab_size", (uint)config.VocabSize);
        if (config is MistralConfig { SlidingWindow: int window }) w.AddUInt32($"{arch}.attention.sliding_window", (uint)window);
    }
}
