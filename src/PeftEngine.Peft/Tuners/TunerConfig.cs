namespace PeftEngine.Peft.Tuners;

/// <summary>
/// The settings of a method that adapts chosen modules of the model in place (injection points 1, 2, 5 and 7 of
/// DESIGN.md §3): which modules to target, which to exclude, which layers, and which whole modules to train as
/// copies.
/// </summary>
/// <remarks>HF: the target fields shared by LoraConfig, IA3Config, LoHaConfig... (<c>target_modules</c>,
/// <c>exclude_modules</c>, <c>layers_to_transform</c>, <c>layers_pattern</c>, <c>modules_to_save</c>).</remarks>
public abstract record TunerConfig : PeftConfig
{
    /// <summary>The modules to adapt. When null, a method may fill in HF's per-architecture defaults (LoRA, IA3 and
    /// LN tuning do, for the engine's GPT-2, LLaMA-family and BERT models) or, for BitFit, every module with a bias;
    /// otherwise it is an error.</summary>
    public TargetModules? TargetModules { get; init; }

    /// <summary>Modules never to adapt, as names/suffixes or a regex.</summary>
    public TargetModules? ExcludeModules { get; init; }

    /// <summary>Only adapt modules inside these layer indices (with the name-list form of
    /// <see cref="TargetModules"/>, as in HF).</summary>
    public int[]? LayersToTransform { get; init; }

    /// <summary>Names of the layer list(s) in the module path (e.g. "layers", "h"); null guesses the index as the
    /// number after the second-to-last name before it, as HF does.</summary>
    public string[]? LayersPattern { get; init; }

    /// <summary>Modules (names or suffixes) trained in full as per-adapter copies, e.g. a classifier head.</summary>
    public string[]? ModulesToSave { get; init; }
}
