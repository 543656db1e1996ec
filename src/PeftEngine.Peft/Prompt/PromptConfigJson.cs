using System.Text.Json.Nodes;

namespace PeftEngine.Peft.Prompt;

/// <summary>The <c>adapter_config.json</c> fields of <see cref="PromptTuningConfig"/> and
/// <see cref="PrefixTuningConfig"/>, for <see cref="Serialization.AdapterConfigJson"/>.</summary>
/// <remarks>HF: dataclasses.asdict of PromptTuningConfig / PrefixTuningConfig (PeftConfig + PromptLearningConfig
/// fields + the method's own). The release of each key is approximate for the newest ones (init_weights,
/// peft_version), as in <see cref="Serialization.PeftVersionKeys"/>.</remarks>
internal static class PromptConfigJson
{
    private static readonly Version V03 = new(0, 3, 0);

    /// <summary>Key -> first PEFT version whose prompt-learning configs accept it.</summary>
    public static IReadOnlyDictionary<string, Version> Keys { get; } = new Dictionary<string, Version>(StringComparer.Ordinal)
    {
        ["peft_type"] = V03, ["task_type"] = V03, ["base_model_name_or_path"] = V03, ["inference_mode"] = V03,
        ["num_virtual_tokens"] = V03, ["token_dim"] = V03, ["num_transformer_submodules"] = V03, ["num_attention_heads"] = V03,
        ["num_layers"] = V03, ["prompt_tuning_init"] = V03, ["prompt_tuning_init_text"] = V03, ["tokenizer_name_or_path"] = V03,
        ["encoder_hidden_size"] = V03, ["prefix_projection"] = V03, ["revision"] = new(0, 4, 0), ["auto_mapping"] = new(0, 6, 0),
        ["modules_to_save"] = new(0, 6, 0), ["tokenizer_kwargs"] = new(0, 7, 0), ["init_weights"] = new(0, 14, 0),
        ["peft_version"] = new(0, 18, 0),
    };

    /// <summary>The fields HF writes for <paramref name="c"/> (unfiltered; the writer drops keys newer than the target).</summary>
    public static SortedDictionary<string, object?> Fields(PromptLearningConfig c, Version v)
    {
        var f = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["auto_mapping"] = null, ["base_model_name_or_path"] = c.BaseModelNameOrPath, ["inference_mode"] = true,
            ["modules_to_save"] = c.ModulesToSave?.Cast<object?>().ToList(), ["num_attention_heads"] = c.NumAttentionHeads,
            ["num_layers"] = c.NumLayers, ["num_transformer_submodules"] = c.NumTransformerSubmodules, ["num_virtual_tokens"] = c.NumVirtualTokens,
            ["peft_type"] = c.PeftType, ["peft_version"] = $"{v.Major}.{v.Minor}.{Math.Max(v.Build, 0)}", ["revision"] = c.Revision,
            ["task_type"] = c.TaskType, ["token_dim"] = c.TokenDim,
        };
        switch (c)
        {
            case PromptTuningConfig p:
                f["prompt_tuning_init"] = InitName(p.PromptTuningInit);
                f["prompt_tuning_init_text"] = p.PromptTuningInitText;
                f["tokenizer_name_or_path"] = p.TokenizerNameOrPath;
                f["tokenizer_kwargs"] = null;
                break;
            case PrefixTuningConfig x:
                f["encoder_hidden_size"] = x.EncoderHiddenSize;
                f["prefix_projection"] = x.PrefixProjection;
                f["init_weights"] = x.InitWeights;
                break;
        }
        return f;
    }

    /// <summary>Reads a PROMPT_TUNING config.</summary>
    public static PromptTuningConfig ParsePromptTuning(JsonObject o, string source)
    {
        Warn(o, "PromptTuningConfig", ["prompt_tuning_init", "prompt_tuning_init_text", "tokenizer_name_or_path", "tokenizer_kwargs"]);
        if (o["tokenizer_kwargs"] is JsonObject { Count: > 0 } kw)
            throw new NotSupportedException($"{source}: tokenizer_kwargs = {kw.ToJsonString()} is not supported by this engine");
        string init = Str(o, "prompt_tuning_init") ?? "RANDOM";
        var config = Common(o, new PromptTuningConfig
        {
            PromptTuningInit = init switch
            {
                "RANDOM" => PromptTuningInit.Random,
                "TEXT" => PromptTuningInit.Text,
                "SAMPLE_VOCAB" => PromptTuningInit.SampleVocab,
                _ => throw new NotSupportedException($"{source}: prompt_tuning_init = \"{init}\" is not one of RANDOM, TEXT, SAMPLE_VOCAB"),
            },
            PromptTuningInitText = Str(o, "prompt_tuning_init_text"),
            TokenizerNameOrPath = Str(o, "tokenizer_name_or_path"),
        });
        config.Validate();
        return config;
    }

    /// <summary>Reads a PREFIX_TUNING config.</summary>
    public static PrefixTuningConfig ParsePrefixTuning(JsonObject o, string source)
    {
        Warn(o, "PrefixTuningConfig", ["encoder_hidden_size", "prefix_projection", "init_weights"]);
        return Common(o, new PrefixTuningConfig
        {
            EncoderHiddenSize = Int(o, "encoder_hidden_size"),
            PrefixProjection = o["prefix_projection"] is JsonValue v && v.GetValue<bool>(),
            InitWeights = Str(o, "init_weights"),
        });
    }

    private static T Common<T>(JsonObject o, T c) where T : PromptLearningConfig => c with
    {
        TaskType = Str(o, "task_type"),
        BaseModelNameOrPath = Str(o, "base_model_name_or_path"),
        Revision = Str(o, "revision"),
        InferenceMode = o["inference_mode"] is JsonValue v && v.GetValue<bool>(),
        NumVirtualTokens = Int(o, "num_virtual_tokens") ?? 0,
        TokenDim = Int(o, "token_dim"),
        NumTransformerSubmodules = Int(o, "num_transformer_submodules"),
        NumAttentionHeads = Int(o, "num_attention_heads"),
        NumLayers = Int(o, "num_layers"),
        ModulesToSave = o["modules_to_save"] is JsonArray ms ? ms.Select(n => n!.GetValue<string>()).ToArray() : null,
    };

    private static void Warn(JsonObject o, string cls, string[] own)
    {
        string[] specific = ["prompt_tuning_init", "prompt_tuning_init_text", "tokenizer_name_or_path", "tokenizer_kwargs",
            "encoder_hidden_size", "prefix_projection", "init_weights"];
        var unknown = o.Select(kv => kv.Key)
            .Where(k => k != "runtime_config" && (!Keys.ContainsKey(k) || (specific.Contains(k) && !own.Contains(k)))).ToList();
        if (unknown.Count > 0)
            PeftWarnings.Warn($"Unexpected keyword arguments [{string.Join(", ", unknown.Select(k => $"'{k}'"))}] for class {cls}, these are ignored. "
                + "This probably means that you're loading a configuration file that was saved using a higher version of the library.");
    }

    private static string InitName(PromptTuningInit init) => init switch
    {
        PromptTuningInit.Text => "TEXT",
        PromptTuningInit.SampleVocab => "SAMPLE_VOCAB",
        _ => "RANDOM",
    };

    private static string? Str(JsonObject o, string key) => o[key] is JsonValue v ? v.GetValue<string>() : null;

    private static int? Int(JsonObject o, string key) => o[key] is JsonValue v ? (int)v.GetValue<double>() : null;
}
