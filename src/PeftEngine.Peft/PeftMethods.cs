using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft;

/// <summary>
/// The registry of PEFT methods by HF <c>peft_type</c>: how to make the method's <see cref="Tuner"/>. Adding a method
/// to the engine is one <see cref="Register"/> call (plus its config's JSON mapping in
/// <see cref="Serialization.AdapterConfigJson"/>).
/// </summary>
/// <remarks>HF: peft.utils.peft_types.register_peft_method and PEFT_TYPE_TO_TUNER_MAPPING.</remarks>
public static class PeftMethods
{
    private static readonly Dictionary<string, Func<Tuner>> Tuners = new(StringComparer.Ordinal)
    {
        ["LORA"] = () => new LoraTuner(),
        ["LOREFT"] = () => new Reft.ReftTuner("LOREFT"),
        ["DIREFT"] = () => new Reft.ReftTuner("DIREFT"),
        ["IA3"] = () => new Ia3.Ia3Tuner(),
        ["LN_TUNING"] = () => new Subset.LnTuningTuner(),
        ["BITFIT"] = () => new Subset.BitFitTuner(),
        [Adapters.BottleneckConfig.Type] = () => new Adapters.BottleneckTuner(),
        [Adapters.AdapterFusionConfig.Type] = () => new Adapters.AdapterFusionTuner(),
        ["PROMPT_TUNING"] = () => new Prompt.PromptTuningTuner(),
        ["PREFIX_TUNING"] = () => new Prompt.PrefixTuningTuner(),
    };

    /// <summary>Registers (or replaces) the tuner factory of <paramref name="peftType"/>.</summary>
    public static void Register(string peftType, Func<Tuner> create)
    {
        lock (Tuners) Tuners[peftType] = create;
    }

    /// <summary>A new tuner for <paramref name="peftType"/>, or a clear error for an unknown type.</summary>
    public static Tuner Create(string peftType)
    {
        lock (Tuners)
            return Tuners.TryGetValue(peftType, out var f) ? f()
                : throw new NotSupportedException($"Unknown peft_type \"{peftType}\"; this engine implements: {string.Join(", ", Tuners.Keys)}");
    }
}
