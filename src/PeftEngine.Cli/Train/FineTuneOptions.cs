namespace PeftEngine.Cli.Train;

/// <summary>
/// Everything a fine-tuning run needs, with the defaults of <c>peft train</c> (a LoRA fine-tune of the shipped
/// tiny-llama on its passage question-answering set, a few minutes on two cores).
/// </summary>
public sealed record FineTuneOptions
{
    /// <summary>Base model: a shipped name, a Hugging Face folder or a GGUF file.</summary>
    public string Model { get; init; } = ModelResolver.DefaultModel;

    /// <summary>PEFT method (see <c>peft methods</c>).</summary>
    public string Method { get; init; } = "lora";

    /// <summary>LoRA rank.</summary>
    public int Rank { get; init; } = 16;

    /// <summary>LoRA alpha (the update is scaled by alpha / rank).</summary>
    public double Alpha { get; init; } = 32;

    /// <summary>Dropout on the LoRA input.</summary>
    public double Dropout { get; init; } = 0.05;

    /// <summary>Modules to adapt: "all-linear" or comma-separated names/suffixes.</summary>
    public string TargetModules { get; init; } = "all-linear";

    /// <summary>Adapter initialisation: default, gaussian, pissa, pissa_niter_N or loftq.</summary>
    public string Init { get; init; } = "default";

    /// <summary>Use DoRA (weight-decomposed LoRA).</summary>
    public bool UseDora { get; init; }

    /// <summary>Quantize the base's Linear layers to 4 bits before adding the adapter (QLoRA).</summary>
    public bool LoadIn4Bit { get; init; }

    /// <summary>The 4-bit type with <see cref="LoadIn4Bit"/>: nf4 or fp4.</summary>
    public string QuantType { get; init; } = "nf4";

    /// <summary>Double-quantize the 4-bit block scales.</summary>
    public bool DoubleQuant { get; init; } = true;

    /// <summary>Training data (Alpaca/chat/text JSONL); default: the model folder's data/qa-train.jsonl.</summary>
    public string? Data { get; init; }

    /// <summary>Held-out data; default: the model folder's data/qa-valid.jsonl.</summary>
    public string? EvalData { get; init; }

    /// <summary>Optimizer steps.</summary>
    public int Steps { get; init; } = 240;

    /// <summary>Sequences per step.</summary>
    public int Batch { get; init; } = 16;

    /// <summary>Longest training sequence in tokens (longer examples are cut).</summary>
    public int SeqLen { get; init; } = 160;

    /// <summary>Peak learning rate.</summary>
    public double Lr { get; init; } = 3e-3;

    /// <summary>Warm-up steps.</summary>
    public int Warmup { get; init; } = 20;

    /// <summary>Held-out examples scored with the task metric (exact match) before and after.</summary>
    public int EvalExamples { get; init; } = 100;

    /// <summary>Held-out examples shown as sample generations before and after.</summary>
    public int Samples { get; init; } = 3;

    /// <summary>Seed of data order, dropout and adapter initialisation.</summary>
    public ulong Seed { get; init; } = 0;

    /// <summary>CPU threads (0: all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Where the adapter, log and loss curve go.</summary>
    public string Output { get; init; } = Path.Combine("runs", "tiny-llama-lora");

    /// <summary>A checkpoint folder to resume from (written by an interrupted run under Output/checkpoints).</summary>
    public string? Resume { get; init; }

    /// <summary>Checkpoint every this many steps (0: only when interrupted).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Throws naming the first option that is out of range.</summary>
    public void Validate()
    {
        if (Rank <= 0) throw new ArgumentException($"--rank must be positive, got {Rank}");
        if (Steps <= 0) throw new ArgumentException($"--steps must be positive, got {Steps}");
        if (Batch <= 0) throw new ArgumentException($"--batch must be positive, got {Batch}");
        if (SeqLen < 8) throw new ArgumentException($"--seq-len must be at least 8, got {SeqLen}");
        if (Lr <= 0) throw new ArgumentException($"--lr must be positive, got {Lr}");
        if (Dropout is < 0 or >= 1) throw new ArgumentException($"--dropout must be in [0, 1), got {Dropout}");
        if (LoadIn4Bit && QuantType is not ("nf4" or "fp4")) throw new ArgumentException($"--quant-type must be nf4 or fp4, got '{QuantType}'");
        if (EvalExamples < 0 || Samples < 0) throw new ArgumentException("--eval-examples and --samples must not be negative");
        if (!string.Equals(Method, "lora", StringComparison.OrdinalIgnoreCase) && !string.Equals(Method, "dora", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"--method '{Method}' is not available in `peft train` yet; available: lora, dora");
    }
}
