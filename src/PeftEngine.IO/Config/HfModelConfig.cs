namespace PeftEngine.IO;

/// <summary>
/// The fields every supported architecture's <c>config.json</c> has, under transformers' common names, with
/// transformers' defaults already applied. Per-architecture records add the rest.
/// </summary>
/// <remarks>HF transformers: <c>PretrainedConfig</c> (and its <c>attribute_map</c> aliases such as GPT-2's n_embd).</remarks>
public abstract record HfModelConfig
{
    /// <summary>The <c>model_type</c> ("llama", "gpt2"...).</summary>
    public string ModelType { get; init; } = "";

    /// <summary>The <c>architectures</c> list ("LlamaForCausalLM"...), empty when absent.</summary>
    public string[] Architectures { get; init; } = [];

    /// <summary>Vocabulary size.</summary>
    public int VocabSize { get; init; }

    /// <summary>Model width (GPT-2: n_embd).</summary>
    public int HiddenSize { get; init; }

    /// <summary>Number of transformer blocks (GPT-2: n_layer).</summary>
    public int NumHiddenLayers { get; init; }

    /// <summary>Number of attention heads (GPT-2: n_head).</summary>
    public int NumAttentionHeads { get; init; }

    /// <summary>Width of the MLP's hidden layer (GPT-2: n_inner, default 4 * n_embd).</summary>
    public int IntermediateSize { get; init; }

    /// <summary>Longest sequence the position embedding or RoPE was trained for (GPT-2: n_positions).</summary>
    public int MaxPositionEmbeddings { get; init; }

    /// <summary>The MLP activation name ("silu", "gelu_new", "gelu").</summary>
    public string HiddenAct { get; init; } = "";

    /// <summary>True when the output projection shares the input embedding's weights.</summary>
    public bool TieWordEmbeddings { get; init; }

    /// <summary>Beginning-of-sequence token id, if any.</summary>
    public int? BosTokenId { get; init; }

    /// <summary>End-of-sequence token ids (a config may list several).</summary>
    public int[] EosTokenIds { get; init; } = [];

    /// <summary>Padding token id, if any.</summary>
    public int? PadTokenId { get; init; }

    /// <summary>The checkpoint's stored dtype ("float32", "bfloat16"...; "torch_dtype" or "dtype"), if given.</summary>
    public string? TorchDtype { get; init; }

    /// <summary>Width of one attention head.</summary>
    public virtual int HeadDim => HiddenSize / NumAttentionHeads;
}
