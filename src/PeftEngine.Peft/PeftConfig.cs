namespace PeftEngine.Peft;

/// <summary>
/// The settings every PEFT method shares: which method (<see cref="PeftType"/>), the task, and where the base model
/// came from. Each method derives its own record from this one (or from <see cref="Tuners.TunerConfig"/> when it
/// wraps modules), so one <see cref="PeftModel"/> can hold adapters of different methods side by side.
/// </summary>
/// <remarks>HF: peft.config.PeftConfig (field names in JSON: <c>peft_type</c>, <c>task_type</c>,
/// <c>base_model_name_or_path</c>, <c>revision</c>, <c>inference_mode</c>).</remarks>
public abstract record PeftConfig
{
    /// <summary>The method's name as HF PEFT spells it in <c>adapter_config.json</c> (e.g. "LORA").</summary>
    public abstract string PeftType { get; }

    /// <summary>HF task type ("CAUSAL_LM", "SEQ_CLS", ...), or null for a custom model.</summary>
    public string? TaskType { get; init; }

    /// <summary>Name or path of the base model the adapter was trained on.</summary>
    public string? BaseModelNameOrPath { get; init; }

    /// <summary>Revision of the base model, if any.</summary>
    public string? Revision { get; init; }

    /// <summary>True when the adapter is loaded for inference only (its parameters stay frozen).</summary>
    public bool InferenceMode { get; init; }
}
