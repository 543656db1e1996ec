using System.Text.Json.Nodes;
using PeftEngine.Peft.Adapters;

namespace PeftEngine.Peft.Serialization;

// adapter_config.json of the bottleneck adapters and of AdapterFusion. HF PEFT has neither method, so the keys are
// this engine's, written in HF's style (every field, sorted, Python names): LLM-Adapters' BottleneckConfig names
// (bottleneck_size, non_linearity, adapter_dropout, use_parallel_adapter, scaling) plus reduction_factor and
// init_weights ("houlsby", "mam_adapter", "bert") from AdapterHub; AdapterFusion: adapters, temperature.
public static partial class AdapterConfigJson
{
    private static readonly HashSet<string> BottleneckCommonKeys =
    [
        "peft_type", "peft_version", "task_type", "base_model_name_or_path", "revision", "inference_mode", "auto_mapping",
        "target_modules", "exclude_modules", "layers_to_transform", "layers_pattern", "modules_to_save",
    ];

    private static readonly HashSet<string> BottleneckKeys =
        ["bottleneck_size", "reduction_factor", "non_linearity", "adapter_dropout", "use_parallel_adapter", "scaling", "init_weights", "train_layer_norms"];

    private static readonly HashSet<string> AdapterFusionKeys = ["adapters", "temperature"];

    private static void WarnUnknownBottleneckKeys(JsonObject o, HashSet<string> own, string className)
    {
        var unknown = o.Select(kv => kv.Key).Where(k => !BottleneckCommonKeys.Contains(k) && !own.Contains(k) && k != "runtime_config").ToList();
        if (unknown.Count > 0)
            PeftWarnings.Warn($"Unexpected keyword arguments [{string.Join(", ", unknown.Select(k => $"'{k}'"))}] for class {className}, these are ignored.");
    }

    private static BottleneckConfig ParseBottleneck(JsonObject o, string source)
    {
        WarnUnknownBottleneckKeys(o, BottleneckKeys, nameof(BottleneckConfig));
        var init = Str(o, "init_weights") switch
        {
            null or "houlsby" => BottleneckInit.Houlsby,
            "mam_adapter" => BottleneckInit.MamAdapter,
            "bert" => BottleneckInit.Bert,
            var s => throw new NotSupportedException($"{source}: init_weights = \"{s}\" is not supported (supported: \"houlsby\", \"mam_adapter\", \"bert\")"),
        };
        var config = new BottleneckConfig
        {
            BottleneckSize = o["bottleneck_size"] is JsonValue b ? b.GetValue<int>() : null,
            ReductionFactor = Num(o, "reduction_factor", 16),
            NonLinearity = Str(o, "non_linearity") ?? "gelu",
            AdapterDropout = Num(o, "adapter_dropout", 0),
            UseParallelAdapter = Bool(o, "use_parallel_adapter", false),
            Scaling = Num(o, "scaling", 1),
            InitWeights = init,
            TrainLayerNorms = Bool(o, "train_layer_norms", false),
        };
        return WithLayerKeys(WithTunerKeys(config, o), o);
    }

    private static AdapterFusionConfig ParseAdapterFusion(JsonObject o, string source)
    {
        WarnUnknownBottleneckKeys(o, AdapterFusionKeys, nameof(AdapterFusionConfig));
        var adapters = o["adapters"] as JsonArray ?? throw new InvalidDataException($"{source}: an ADAPTER_FUSION config needs \"adapters\" (the names of the fused adapters)");
        var config = new AdapterFusionConfig
        {
            Adapters = adapters.Select(n => n!.GetValue<string>()).ToArray(),
            Temperature = Num(o, "temperature", 1),
        };
        return WithLayerKeys(WithTunerKeys(config, o), o);
    }

    private static SortedDictionary<string, object?> BottleneckCommonFields(Tuners.TunerConfig c, Version v) => new(StringComparer.Ordinal)
    {
        ["auto_mapping"] = null, ["base_model_name_or_path"] = c.BaseModelNameOrPath, ["exclude_modules"] = TargetsValue(c.ExcludeModules),
        ["inference_mode"] = true, ["layers_pattern"] = c.LayersPattern is { Length: 1 } lp ? lp[0] : c.LayersPattern?.Cast<object?>().ToList(),
        ["layers_to_transform"] = c.LayersToTransform?.Cast<object?>().ToList(), ["modules_to_save"] = c.ModulesToSave?.Cast<object?>().ToList(),
        ["peft_type"] = c.PeftType, ["peft_version"] = $"{v.Major}.{v.Minor}.{Math.Max(v.Build, 0)}", ["revision"] = c.Revision,
        ["target_modules"] = TargetsValue(c.TargetModules), ["task_type"] = c.TaskType,
    };

    private static SortedDictionary<string, object?> BottleneckFields(BottleneckConfig c, Version v)
    {
        var f = BottleneckCommonFields(c, v);
        f["bottleneck_size"] = c.BottleneckSize;
        f["reduction_factor"] = new PyFloat(c.ReductionFactor);
        f["non_linearity"] = c.NonLinearity;
        f["adapter_dropout"] = new PyFloat(c.AdapterDropout);
        f["use_parallel_adapter"] = c.UseParallelAdapter;
        f["scaling"] = new PyFloat(c.Scaling);
        f["train_layer_norms"] = c.TrainLayerNorms;
        f["init_weights"] = c.InitWeights switch
        {
            BottleneckInit.Houlsby => "houlsby",
            BottleneckInit.MamAdapter => "mam_adapter",
            _ => "bert",
        };
        return f;
    }

    private static SortedDictionary<string, object?> AdapterFusionFields(AdapterFusionConfig c, Version v)
    {
        var f = BottleneckCommonFields(c, v);
        f["adapters"] = c.Adapters.Cast<object?>().ToList();
        f["temperature"] = new PyFloat(c.Temperature);
        return f;
    }
}
