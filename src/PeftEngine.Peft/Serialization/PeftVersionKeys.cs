namespace PeftEngine.Peft.Serialization;

/// <summary>
/// The HF PEFT release that introduced each <c>adapter_config.json</c> key of a LoRA config, so a writer aimed at an
/// older PEFT can leave out keys it would reject (PEFT before 0.14 raises TypeError on an unknown key).
/// </summary>
/// <remarks>HF: the LoraConfig dataclass fields over PEFT's history. Keys first seen in 0.3 or earlier are listed as
/// 0.3.0. The releases of the newest variant keys are read from PEFT's changelog as summarised in the project's
/// research notes (peers.md §1.1, §1.5); treat those of 0.17 and later as approximate.</remarks>
public static class PeftVersionKeys
{
    /// <summary>Key -> first PEFT version whose LoraConfig accepts it.</summary>
    public static IReadOnlyDictionary<string, Version> Lora { get; } = new Dictionary<string, Version>(StringComparer.Ordinal)
    {
        ["peft_type"] = new(0, 3, 0), ["task_type"] = new(0, 3, 0), ["base_model_name_or_path"] = new(0, 3, 0),
        ["inference_mode"] = new(0, 3, 0), ["r"] = new(0, 3, 0), ["target_modules"] = new(0, 3, 0),
        ["lora_alpha"] = new(0, 3, 0), ["lora_dropout"] = new(0, 3, 0), ["fan_in_fan_out"] = new(0, 3, 0),
        ["bias"] = new(0, 3, 0), ["modules_to_save"] = new(0, 3, 0), ["init_lora_weights"] = new(0, 3, 0),
        ["layers_to_transform"] = new(0, 3, 0), ["layers_pattern"] = new(0, 3, 0),
        ["revision"] = new(0, 4, 0), ["auto_mapping"] = new(0, 6, 0),
        ["rank_pattern"] = new(0, 6, 0), ["alpha_pattern"] = new(0, 6, 0),
        ["megatron_config"] = new(0, 6, 0), ["megatron_core"] = new(0, 6, 0),
        ["loftq_config"] = new(0, 7, 0), ["use_rslora"] = new(0, 7, 0),
        ["use_dora"] = new(0, 9, 0), ["layer_replication"] = new(0, 10, 0),
        ["exclude_modules"] = new(0, 14, 0), ["eva_config"] = new(0, 14, 0), ["lora_bias"] = new(0, 14, 0),
        ["corda_config"] = new(0, 15, 0), ["trainable_token_indices"] = new(0, 15, 0),
        ["target_parameters"] = new(0, 17, 0), ["use_qalora"] = new(0, 17, 0), ["qalora_group_size"] = new(0, 17, 0),
        ["alora_invocation_tokens"] = new(0, 17, 0),
        ["ensure_weight_tying"] = new(0, 18, 0), ["peft_version"] = new(0, 18, 0), ["arrow_config"] = new(0, 18, 0),
        ["lora_ga_config"] = new(0, 19, 0), ["kasa_config"] = new(0, 19, 0), ["velora_config"] = new(0, 19, 0),
        ["monteclora_config"] = new(0, 20, 0), ["use_bdlora"] = new(0, 20, 0),
    };

    /// <summary>The newest PEFT release whose LoRA keys this engine writes by default.</summary>
    public static Version Latest { get; } = new(0, 20, 0);
}
