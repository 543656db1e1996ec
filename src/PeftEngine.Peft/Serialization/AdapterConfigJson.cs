using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftEngine.IO;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Serialization;

/// <summary>
/// Reads and writes <c>adapter_config.json</c> as HF PEFT does: every field of the config under its Python name,
/// keys sorted, two-space indent, <c>inference_mode</c> true. Reading accepts a minimal file (only
/// <c>peft_type</c> is required; the rest takes HF's defaults), warns about unknown keys, ignores
/// <c>runtime_config</c>, and rejects values this engine cannot honour (e.g. <c>use_qalora</c>) with a clear error.
/// </summary>
/// <remarks>HF: PeftConfig.save_pretrained (json.dumps(asdict(config), indent=2, sort_keys=True)) and
/// PeftConfig.from_pretrained / from_peft_type.</remarks>
public static partial class AdapterConfigJson
{
    /// <summary>The file name.</summary>
    public const string FileName = "adapter_config.json";

    // ----------------------------------------------------------------------------------------- reading

    /// <summary>Parses a config file's text; the PEFT type decides the config record.</summary>
    public static PeftConfig Parse(string json, string source = FileName)
    {
        JsonObject obj;
        try { obj = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source}: expected a JSON object"); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not valid JSON ({e.Message})", e); }
        if (obj.ContainsKey("config") && obj.ContainsKey("version") && !obj.ContainsKey("peft_type"))
            throw new InvalidDataException($"{source}: this is an AdapterHub adapter config, not an HF PEFT one");
        string peftType = obj["peft_type"]?.GetValue<string>()
            ?? throw new InvalidDataException($"{source}: the key \"peft_type\" is missing (it is the one key HF PEFT requires)");
        return peftType switch
        {
            "LORA" => ParseLora(obj, source),
            "IA3" => ScalingSubsetConfigJson.ParseIa3(obj, source),
            "LN_TUNING" => ScalingSubsetConfigJson.ParseLnTuning(obj, source),
            "BITFIT" => ScalingSubsetConfigJson.ParseBitFit(obj, source),
            Adapters.BottleneckConfig.Type => ParseBottleneck(obj, source),
            Adapters.AdapterFusionConfig.Type => ParseAdapterFusion(obj, source),
            "PROMPT_TUNING" => Prompt.PromptConfigJson.ParsePromptTuning(obj, source),
            "PREFIX_TUNING" => Prompt.PromptConfigJson.ParsePrefixTuning(obj, source),
            "LOREFT" or "DIREFT" => ParseReft(obj, source, peftType),
            _ => throw new NotSupportedException($"{source}: unknown peft_type \"{peftType}\"; this engine reads: LORA, IA3, LN_TUNING, BITFIT, BOTTLENECK, ADAPTER_FUSION, PROMPT_TUNING, PREFIX_TUNING, LOREFT, DIREFT"),
        };
    }

    private static LoraConfig ParseLora(JsonObject o, string source)
    {
        var unknown = o.Select(kv => kv.Key).Where(k => !PeftVersionKeys.Lora.ContainsKey(k) && k != "runtime_config").ToList();
        if (unknown.Count > 0)
            PeftWarnings.Warn($"Unexpected keyword arguments [{string.Join(", ", unknown.Select(k => $"'{k}'"))}] for class LoraConfig, these are ignored. "
                + "This probably means that you're loading a configuration file that was saved using a higher version of the library.");
        if (o.ContainsKey("runtime_config")) PeftWarnings.Warn($"{source}: runtime_config is ignored when loading");
        RejectUnlessDefault(o, source, "use_qalora", false);
        RejectUnlessDefault(o, source, "layer_replication", null);
        RejectUnlessDefault(o, source, "target_parameters", null);
        RejectUnlessDefault(o, source, "trainable_token_indices", null);
        RejectUnlessDefault(o, source, "alora_invocation_tokens", null);
        RejectUnlessDefault(o, source, "use_bdlora", null);
        foreach (var k in new[] { "arrow_config", "kasa_config", "velora_config", "monteclora_config", "lora_ga_config", "eva_config", "corda_config", "megatron_config" })
            RejectUnlessDefault(o, source, k, null);
        var init = o["init_lora_weights"] switch
        {
            null => LoraInit.Default,
            JsonValue v when v.TryGetValue<bool>(out bool b) => b ? LoraInit.Default : LoraInit.Random,
            JsonValue v when v.TryGetValue<string>(out var s) && s == "gaussian" => LoraInit.Gaussian,
            JsonValue v when v.TryGetValue<string>(out var s) && (s == "pissa" || s.StartsWith("pissa_niter_", StringComparison.Ordinal)) => LoraInit.Pissa,
            JsonValue v when v.TryGetValue<string>(out var s) && s == "loftq" => LoraInit.Loftq,
            var v => throw new NotSupportedException($"{source}: init_lora_weights = {v.ToJsonString()} is not supported (supported: true, false, \"gaussian\", \"pissa\", \"pissa_niter_N\", \"loftq\")"),
        };
        int? pissaNiter = o["init_lora_weights"] is JsonValue pv && pv.TryGetValue<string>(out var ps) && ps.StartsWith("pissa_niter_", StringComparison.Ordinal)
            ? (int.TryParse(ps["pissa_niter_".Length..], out int n) && n >= 0 ? n : throw new NotSupportedException($"{source}: init_lora_weights = \"{ps}\" has no valid iteration count"))
            : null;
        var loftq = o["loftq_config"] is JsonObject lq && lq.Count > 0
            ? new LoftqConfig((int)Num(lq, "loftq_bits", 4), (int)Num(lq, "loftq_iter", 1))
            : new LoftqConfig();
        return WithLayerKeys(WithTunerKeys(new LoraConfig(), o), o) with
        {
            R = (int)Num(o, "r", 8),
            LoraAlpha = Num(o, "lora_alpha", 8),
            LoraDropout = Num(o, "lora_dropout", 0),
            FanInFanOut = Bool(o, "fan_in_fan_out", false),
            Bias = Str(o, "bias") ?? "none",
            UseRslora = Bool(o, "use_rslora", false),
            UseDora = Bool(o, "use_dora", false),
            LoraBias = Bool(o, "lora_bias", false),
            InitLoraWeights = init, PissaNiter = pissaNiter, LoftqConfig = loftq,
            RankPattern = o["rank_pattern"] is JsonObject rp ? rp.ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<int>()) : new Dictionary<string, int>(),
            AlphaPattern = o["alpha_pattern"] is JsonObject ap ? ap.ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<double>()) : new Dictionary<string, double>(),
        };
    }

    private static readonly string[] ReftKeys =
    [
        "peft_type", "task_type", "base_model_name_or_path", "revision", "inference_mode", "peft_version",
        "layers", "positions", "low_rank_dimension", "dropout", "act_fn", "share_weights",
    ];

    /// <summary>LoReFT / DiReFT (keys: see <see cref="Reft.ReftConfig"/>); unknown keys warn as for LoRA.</summary>
    private static Reft.ReftConfig ParseReft(JsonObject o, string source, string peftType)
    {
        var unknown = o.Select(kv => kv.Key).Where(k => !ReftKeys.Contains(k)).ToList();
        if (unknown.Count > 0)
            PeftWarnings.Warn($"{source}: unexpected keys [{string.Join(", ", unknown.Select(k => $"'{k}'"))}] for {peftType}, these are ignored.");
        Reft.ReftConfig config = peftType == "LOREFT" ? new Reft.LoreftConfig() : new Reft.DireftConfig();
        return config with
        {
            TaskType = Str(o, "task_type"),
            BaseModelNameOrPath = Str(o, "base_model_name_or_path"),
            Revision = Str(o, "revision"),
            InferenceMode = Bool(o, "inference_mode", false),
            Layers = o["layers"] switch
            {
                null => null,
                JsonArray a => a.Select(n => n!.GetValue<int>()).ToArray(),
                var v => [v.GetValue<int>()],
            },
            Positions = Str(o, "positions") ?? "f1+l1",
            LowRankDimension = (int)Num(o, "low_rank_dimension", 4),
            Dropout = Num(o, "dropout", 0),
            ActFn = Str(o, "act_fn"),
            ShareWeights = Bool(o, "share_weights", false),
        };
    }

    private static void RejectUnlessDefault(JsonObject o, string source, string key, bool? expected)
    {
        var node = o[key];
        bool isDefault = node is null || (node is JsonValue v && expected is bool b && v.TryGetValue<bool>(out bool got) && got == b)
            || (node is JsonObject { Count: 0 }) || (node is JsonArray { Count: 0 });
        if (!isDefault) throw new NotSupportedException($"{source}: {key} = {node!.ToJsonString()} is not supported by this engine");
    }

    internal static TargetModules? Targets(JsonNode? node) => node switch
    {
        null => null,
        JsonArray a => a.Count == 0 ? null : TargetModules.Of([.. a.Select(n => n!.GetValue<string>())]),
        var v => v.GetValue<string>() == TargetModules.AllLinearShorthand ? TargetModules.AllLinear : TargetModules.Regex(v.GetValue<string>()),
    };

    internal static string? Str(JsonObject o, string key) => o[key] is JsonValue v ? v.GetValue<string>() : null;

    internal static bool Bool(JsonObject o, string key, bool fallback) => o[key] is JsonValue v ? v.GetValue<bool>() : fallback;

    internal static double Num(JsonObject o, string key, double fallback) => o[key] is JsonValue v ? v.GetValue<double>() : fallback;

    // ----------------------------------------------------------------------------------------- writing

    /// <summary>The file text for <paramref name="config"/>, with only the keys PEFT <paramref name="peftVersion"/>
    /// knows (default: the newest this engine knows).</summary>
    public static string Write(PeftConfig config, Version? peftVersion = null)
    {
        var target = peftVersion ?? PeftVersionKeys.Latest;
        var (fields, versions) = config switch
        {
            LoraConfig l => (LoraFields(l, target), PeftVersionKeys.Lora),
            // this engine's own method types: every key is written whatever the target version
            Adapters.BottleneckConfig b => (BottleneckFields(b, target), null),
            Adapters.AdapterFusionConfig f => (AdapterFusionFields(f, target), null),
            Prompt.PromptLearningConfig p => (Prompt.PromptConfigJson.Fields(p, target), Prompt.PromptConfigJson.Keys),
            Reft.ReftConfig r => ReftFields(r, target),
            _ => ScalingSubsetConfigJson.Fields(config, target)
                ?? throw new NotSupportedException($"adapter_config.json: no writer for {config.PeftType}"),
        };
        var keys = fields.Keys.Where(k => versions is null || versions[k] <= target).Order(StringComparer.Ordinal).ToList();
        var sb = new StringBuilder("{\n");
        for (int i = 0; i < keys.Count; i++)
        {
            sb.Append("  ").Append(PythonString(keys[i])).Append(": ");
            WriteValue(sb, fields[keys[i]], "  ");
            sb.Append(i + 1 < keys.Count ? ",\n" : "\n");
        }
        return sb.Append('}').ToString();
    }

    private static SortedDictionary<string, object?> LoraFields(LoraConfig c, Version v) => new(StringComparer.Ordinal)
    {
        ["alora_invocation_tokens"] = null, ["alpha_pattern"] = c.AlphaPattern.ToDictionary(kv => kv.Key, kv => (object?)kv.Value),
        ["arrow_config"] = null, ["auto_mapping"] = null, ["base_model_name_or_path"] = c.BaseModelNameOrPath,
        ["bias"] = c.Bias, ["corda_config"] = null, ["ensure_weight_tying"] = false, ["eva_config"] = null,
        ["exclude_modules"] = TargetsValue(c.ExcludeModules), ["fan_in_fan_out"] = c.FanInFanOut, ["inference_mode"] = true,
        ["init_lora_weights"] = c.InitLoraWeights switch
        {
            LoraInit.Default => true, LoraInit.Random => false, LoraInit.Gaussian => "gaussian", LoraInit.Loftq => "loftq",
            _ => c.PissaNiter is int n ? $"pissa_niter_{n}" : "pissa",
        },
        ["kasa_config"] = null, ["layer_replication"] = null,
        ["layers_pattern"] = c.LayersPattern is { Length: 1 } lp ? lp[0] : c.LayersPattern?.Cast<object?>().ToList(),
        ["layers_to_transform"] = c.LayersToTransform?.Cast<object?>().ToList(), ["loftq_config"] = c.InitLoraWeights == LoraInit.Loftq
            ? new Dictionary<string, object?> { ["loftq_bits"] = c.LoftqConfig.LoftqBits, ["loftq_iter"] = c.LoftqConfig.LoftqIter }
            : new Dictionary<string, object?>(),
        ["lora_alpha"] = c.LoraAlpha, ["lora_bias"] = c.LoraBias, ["lora_dropout"] = new PyFloat(c.LoraDropout), ["lora_ga_config"] = null,
        ["megatron_config"] = null, ["megatron_core"] = "megatron.core", ["modules_to_save"] = c.ModulesToSave?.Cast<object?>().ToList(),
        ["monteclora_config"] = null, ["peft_type"] = "LORA", ["peft_version"] = $"{v.Major}.{v.Minor}.{Math.Max(v.Build, 0)}", ["qalora_group_size"] = 16, ["r"] = c.R,
        ["rank_pattern"] = c.RankPattern.ToDictionary(kv => kv.Key, kv => (object?)kv.Value), ["revision"] = c.Revision,
        ["target_modules"] = TargetsValue(c.TargetModules), ["target_parameters"] = null, ["task_type"] = c.TaskType,
        ["trainable_token_indices"] = null, ["use_bdlora"] = null, ["use_dora"] = c.UseDora, ["use_qalora"] = false,
        ["use_rslora"] = c.UseRslora, ["velora_config"] = null,
    };

    /// <summary>ReFT's keys (not in HF PEFT, so every key is written whatever the target version).</summary>
    private static (SortedDictionary<string, object?> Fields, IReadOnlyDictionary<string, Version> Versions) ReftFields(Reft.ReftConfig c, Version v)
    {
        var fields = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["act_fn"] = c.ActFn, ["base_model_name_or_path"] = c.BaseModelNameOrPath, ["dropout"] = new PyFloat(c.Dropout),
            ["inference_mode"] = true, ["layers"] = c.Layers?.Cast<object?>().ToList(), ["low_rank_dimension"] = c.LowRankDimension,
            ["peft_type"] = c.PeftType, ["peft_version"] = $"{v.Major}.{v.Minor}.{Math.Max(v.Build, 0)}", ["positions"] = c.Positions,
            ["revision"] = c.Revision, ["share_weights"] = c.ShareWeights, ["task_type"] = c.TaskType,
        };
        return (fields, fields.Keys.ToDictionary(k => k, _ => new Version(0, 0), StringComparer.Ordinal));
    }

    internal static object? TargetsValue(TargetModules? t) => t is null ? null : t.Names is { } n ? n.Cast<object?>().ToList() : t.Pattern;

    /// <summary>A float written as Python writes it (0.0, 0.05), not as an integer.</summary>
    private readonly record struct PyFloat(double Value);

    private static void WriteValue(StringBuilder sb, object? value, string indent)
    {
        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case string s: sb.Append(PythonString(s)); break;
            case int i: sb.Append(i.ToString(CultureInfo.InvariantCulture)); break;
            case PyFloat f: sb.Append(PythonFloat(f.Value)); break;
            case double d: sb.Append(d == Math.Floor(d) && Math.Abs(d) < 1e15 ? ((long)d).ToString(CultureInfo.InvariantCulture) : PythonFloat(d)); break;
            case List<object?> list:
                if (list.Count == 0) { sb.Append("[]"); break; }
                sb.Append("[\n");
                for (int i = 0; i < list.Count; i++)
                {
                    sb.Append(indent).Append("  ");
                    WriteValue(sb, list[i], indent + "  ");
                    sb.Append(i + 1 < list.Count ? ",\n" : "\n");
                }
                sb.Append(indent).Append(']');
                break;
            case Dictionary<string, object?> dict:
                if (dict.Count == 0) { sb.Append("{}"); break; }
                sb.Append("{\n");
                var keys = dict.Keys.Order(StringComparer.Ordinal).ToList();
                for (int i = 0; i < keys.Count; i++)
                {
                    sb.Append(indent).Append("  ").Append(PythonString(keys[i])).Append(": ");
                    WriteValue(sb, dict[keys[i]], indent + "  ");
                    sb.Append(i + 1 < keys.Count ? ",\n" : "\n");
                }
                sb.Append(indent).Append('}');
                break;
            default: throw new ArgumentException($"adapter_config.json: cannot write a {value.GetType().Name}");
        }
    }

    /// <summary>A string as Python's json.dumps writes it (ensure_ascii): quotes, backslashes and control characters
    /// escaped, every non-ASCII character as \uXXXX, everything else (e.g. '+') as it is.</summary>
    private static string PythonString(string s) => PythonJson.String(s, ensureAscii: true);

    private static string PythonFloat(double d) => PythonJson.Float(d);
}
