using System.Text.Json.Nodes;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Serialization;

// The keys every module-targeting config (LoRA, IA3, LN tuning, BitFit, the bottleneck adapters) reads the same way,
// so each method's parser sets only its own keys.
public static partial class AdapterConfigJson
{
    /// <summary><paramref name="config"/> with the keys of HF's PeftConfig and the module selection read from
    /// <paramref name="o"/>: task_type, base_model_name_or_path, revision, inference_mode, target_modules,
    /// exclude_modules.</summary>
    internal static T WithTunerKeys<T>(T config, JsonObject o) where T : TunerConfig => config with
    {
        TaskType = Str(o, "task_type"),
        BaseModelNameOrPath = Str(o, "base_model_name_or_path"),
        Revision = Str(o, "revision"),
        InferenceMode = Bool(o, "inference_mode", false),
        TargetModules = Targets(o["target_modules"]),
        ExcludeModules = Targets(o["exclude_modules"]),
    };

    /// <summary><paramref name="config"/> with modules_to_save, layers_to_transform and layers_pattern read from
    /// <paramref name="o"/> (a single number or name is accepted for a one-element list, as HF does).</summary>
    internal static T WithLayerKeys<T>(T config, JsonObject o) where T : TunerConfig => config with
    {
        ModulesToSave = o["modules_to_save"] is JsonArray ms ? ms.Select(n => n!.GetValue<string>()).ToArray() : null,
        LayersToTransform = o["layers_to_transform"] switch
        {
            null => null,
            JsonArray a => a.Select(n => n!.GetValue<int>()).ToArray(),
            var v => [v.GetValue<int>()],
        },
        LayersPattern = o["layers_pattern"] switch
        {
            null => null,
            JsonArray a => a.Select(n => n!.GetValue<string>()).ToArray(),
            var v => [v.GetValue<string>()],
        },
    };
}
