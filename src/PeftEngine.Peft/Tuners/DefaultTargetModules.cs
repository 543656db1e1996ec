using PeftEngine.Models;
using PeftEngine.Nn;

namespace PeftEngine.Peft.Tuners;

/// <summary>
/// The modules a method targets when its config names none, per model type, as HF PEFT's tables give them (LoRA:
/// the attention query and value projections).
/// </summary>
/// <remarks>HF: peft.utils.constants.TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING (gpt2: c_attn; llama,
/// mistral, qwen2: q_proj, v_proj; bert: query, value).</remarks>
public static class DefaultTargetModules
{
    /// <summary>LoRA defaults by HF <c>model_type</c>.</summary>
    public static IReadOnlyDictionary<string, string[]> Lora { get; } = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["gpt2"] = ["c_attn"],
        ["llama"] = ["q_proj", "v_proj"],
        ["mistral"] = ["q_proj", "v_proj"],
        ["qwen2"] = ["q_proj", "v_proj"],
        ["bert"] = ["query", "value"],
    };

    /// <summary>The HF model_type of an engine model, or null for a user module.</summary>
    public static string? ModelType(Module model) => model switch
    {
        Gpt2Model g => g.Config.ModelType,
        LlamaModel l => l.Config.ModelType,
        BertModel b => b.Config.ModelType,
        BertForSequenceClassification s => (s.GetSubmodule("bert") as BertModel)?.Config.ModelType,
        _ => null,
    };
}
