namespace PeftEngine.Peft.Prompt;

/// <summary>
/// The settings shared by the prompt-learning methods (DESIGN.md §3 points 3 and 4): how many virtual tokens, and
/// the model sizes they are built for. The sizes left null are filled from the model when the adapter is added
/// (and then saved), as HF does.
/// </summary>
/// <remarks>HF: peft.config.PromptLearningConfig (<c>num_virtual_tokens</c>, <c>token_dim</c>,
/// <c>num_transformer_submodules</c>, <c>num_attention_heads</c>, <c>num_layers</c>, <c>modules_to_save</c>) and
/// peft.mapping._prepare_prompt_learning_config.</remarks>
public abstract record PromptLearningConfig : PeftConfig
{
    /// <summary>Number of virtual tokens (prompt length, or prefix length P).</summary>
    public int NumVirtualTokens { get; init; }

    /// <summary>Width of one virtual token: the hidden size (prefix tuning under grouped-query attention:
    /// num_key_value_heads · head_dim). Null: from the model.</summary>
    public int? TokenDim { get; init; }

    /// <summary>1 for decoder-only models (2 for encoder-decoder models, which this engine does not have). Null: 1.</summary>
    public int? NumTransformerSubmodules { get; init; }

    /// <summary>Attention heads the prefix is split into (num_key_value_heads under grouped-query attention). Null: from the model.</summary>
    public int? NumAttentionHeads { get; init; }

    /// <summary>Number of layers. Null: from the model.</summary>
    public int? NumLayers { get; init; }

    /// <summary>Modules trained in full next to the prompt (HF's classification heads); not supported here, must stay null.</summary>
    public string[]? ModulesToSave { get; init; }
}
