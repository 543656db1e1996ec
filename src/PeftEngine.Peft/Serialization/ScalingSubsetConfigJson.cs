using System.Text.Json.Nodes;
using PeftEngine.Peft.Ia3;
using PeftEngine.Peft.Subset;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Serialization;

/// <summary>
/// <c>adapter_config.json</c> for (IA)³, LN tuning and BitFit: the keys of HF's IA3Config and LNTuningConfig (BitFit,
/// which HF lacks, uses LNTuningConfig's keys under peft_type "BITFIT"), with the PEFT release that introduced each
/// key so a writer aimed at an older PEFT leaves out what it would reject.
/// </summary>
/// <remarks>HF: peft.IA3Config (since PEFT 0.4) and peft.LNTuningConfig (since 0.11); exclude_modules since 0.14.</remarks>
internal static class ScalingSubsetConfigJson
{
    private static readonly Dictionary<string, Version> BaseKeys = new(StringComparer.Ordinal)
    {
        ["peft_type"] = new(0, 3, 0), ["task_type"] = new(0, 3, 0), ["base_model_name_or_path"] = new(0, 3, 0),
        ["inference_mode"] = new(0, 3, 0), ["revision"] = new(0, 4, 0), ["auto_mapping"] = new(0, 6, 0),
        ["peft_version"] = new(0, 18, 0), ["target_modules"] = new(0, 3, 0), ["modules_to_save"] = new(0, 3, 0),
        ["exclude_modules"] = new(0, 14, 0),
    };

    /// <summary>IA3Config key -> first PEFT version that accepts it.</summary>
    public static IReadOnlyDictionary<string, Version> Ia3Keys { get; } = new Dictionary<string, Version>(BaseKeys, StringComparer.Ordinal)
    {
        ["feedforward_modules"] = new(0, 4, 0), ["fan_in_fan_out"] = new(0, 4, 0), ["init_ia3_weights"] = new(0, 4, 0),
    };

    /// <summary>LNTuningConfig (and BitFit) key -> first PEFT version that accepts it.</summary>
    public static IReadOnlyDictionary<string, Version> SubsetKeys { get; } = BaseKeys;

    public static Ia3Config ParseIa3(JsonObject o, string source)
    {
        WarnUnknown(o, Ia3Keys, "IA3Config");
        return AdapterConfigJson.WithTunerKeys(new Ia3Config(), o) with
        {
            FeedforwardModules = o["feedforward_modules"] is JsonArray { Count: 0 } ? Ia3Config.NoFeedforward : AdapterConfigJson.Targets(o["feedforward_modules"]),
            FanInFanOut = AdapterConfigJson.Bool(o, "fan_in_fan_out", false),
            InitIa3Weights = AdapterConfigJson.Bool(o, "init_ia3_weights", true),
            ModulesToSave = SaveList(o, source),
        };
    }

    public static LnTuningConfig ParseLnTuning(JsonObject o, string source)
    {
        WarnUnknown(o, SubsetKeys, "LNTuningConfig");
        return AdapterConfigJson.WithTunerKeys(new LnTuningConfig(), o) with
        {
            ModulesToSave = SaveList(o, source),
        };
    }

    public static BitFitConfig ParseBitFit(JsonObject o, string source)
    {
        WarnUnknown(o, SubsetKeys, "BitFitConfig");
        return AdapterConfigJson.WithTunerKeys(new BitFitConfig(), o) with
        {
            ModulesToSave = SaveList(o, source),
        };
    }

    /// <summary>The fields and key versions of an IA3 / LN tuning / BitFit config, or null for another method.</summary>
    public static (SortedDictionary<string, object?> Fields, IReadOnlyDictionary<string, Version> Versions)? Fields(PeftConfig config, Version v)
    {
        if (config is not (Ia3Config or LnTuningConfig or BitFitConfig)) return null;
        var tc = (TunerConfig)config;
        var fields = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["auto_mapping"] = null, ["base_model_name_or_path"] = tc.BaseModelNameOrPath, ["inference_mode"] = true,
            ["peft_type"] = tc.PeftType, ["peft_version"] = $"{v.Major}.{v.Minor}.{Math.Max(v.Build, 0)}", ["revision"] = tc.Revision,
            ["task_type"] = tc.TaskType, ["target_modules"] = AdapterConfigJson.TargetsValue(tc.TargetModules),
            ["exclude_modules"] = AdapterConfigJson.TargetsValue(tc.ExcludeModules),
            ["modules_to_save"] = tc.ModulesToSave?.Cast<object?>().ToList(),
        };
        if (config is not Ia3Config ia3) return (fields, SubsetKeys);
        fields["feedforward_modules"] = ia3.FeedforwardModules == Ia3Config.NoFeedforward ? new List<object?>() : AdapterConfigJson.TargetsValue(ia3.FeedforwardModules);
        fields["fan_in_fan_out"] = ia3.FanInFanOut;
        fields["init_ia3_weights"] = ia3.InitIa3Weights;
        return (fields, Ia3Keys);
    }

    private static string[]? SaveList(JsonObject o, string source) => o["modules_to_save"] switch
    {
        null => null,
        JsonArray a => a.Select(n => n!.GetValue<string>()).ToArray(),
        var v => throw new NotSupportedException($"{source}: modules_to_save = {v.ToJsonString()} must be a list of names"),
    };

    private static void WarnUnknown(JsonObject o, IReadOnlyDictionary<string, Version> known, string className)
    {
        var unknown = o.Select(kv => kv.Key).Where(k => !known.ContainsKey(k) && k != "runtime_config").ToList();
        if (unknown.Count > 0)
            PeftWarnings.Warn($"Unexpected keyword arguments [{string.Join(", ", unknown.Select(k => $"'{k}'"))}] for class {className}, these are ignored. "
                + "This probably means that you're loading a configuration file that was saved using a higher version of the library.");
    }
}
