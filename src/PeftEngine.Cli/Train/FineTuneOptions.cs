namespace PeftEngine.Cli.Train;

/// <summary>
/// Everything a fine-tuning run needs, with the defaults of <c>peft train</c> (a LoRA fine-tune of the shipped
/// tiny-llama on its passage question-answering set, a few minutes on two cores).
/// </summary>
public sealed record FineTuneOptions
{
    /// <summary>Base model: a shipped name, a Hugging Face folder or a GGUF file.</summary>
    public string Model { get; init; } = ModelResolver.DefaultModel;

    /// <summary>PEFT method: one of <see cref="TrainMethods.Names"/> (lora, dora, ia3, bitfit, ln_tuning, houlsby,
    /// parallel, ..., adapter_fusion).</summary>
    public string Method { get; init; } = "lora";

    /// <summary>LoRA/DoRA rank (default 16) or ReFT low-rank dimension (default 4); null: the method's default.</summary>
    public int? Rank { get; init; }

    /// <summary>LoRA alpha (the update is scaled by alpha / rank); null: 32.</summary>
    public double? Alpha { get; init; }

    /// <summary>Dropout on the adapter input (LoRA: 0.05; bottleneck adapters and ReFT: 0); null: the method's default.</summary>
    public double? Dropout { get; init; }

    /// <summary>Modules to adapt: "all-linear" or comma-separated names/suffixes; null: the method's default
    /// (all-linear for LoRA, HF's per-architecture defaults for IA3 and LN tuning, every biased module for BitFit,
    /// the papers' placements for bottleneck adapters).</summary>
    public string? TargetModules { get; init; }

    /// <summary>LoRA initialisation: default, gaussian, pissa, pissa_niter_N or loftq; null: default.</summary>
    public string? Init { get; init; }

    /// <summary>Use DoRA (weight-decomposed LoRA); the same as method dora.</summary>
    public bool UseDora { get; init; }

    /// <summary>IA3: the targets whose input (not output) is scaled, comma-separated, or "none"; null: HF's default.</summary>
    public string? FeedforwardModules { get; init; }

    /// <summary>Bottleneck adapters: the bottleneck width m; null: the adapted width / 16.</summary>
    public int? BottleneckSize { get; init; }

    /// <summary>Bottleneck adapters: the non-linearity (relu, gelu, gelu_new, silu, tanh); null: gelu (houlsby), relu (parallel).</summary>
    public string? NonLinearity { get; init; }

    /// <summary>Bottleneck adapters: the factor on the adapter output; null: 1 (houlsby), 4 (parallel).</summary>
    public double? AdapterScaling { get; init; }

    /// <summary>Prompt and prefix tuning: the number of virtual tokens; null: 20.</summary>
    public int? NumVirtualTokens { get; init; }

    /// <summary>Prompt tuning: how the virtual tokens start (random, sample_vocab, text); null: sample_vocab.</summary>
    public string? PromptInit { get; init; }

    /// <summary>Prompt tuning with text init: the text whose token embeddings start the prompt.</summary>
    public string? PromptInitText { get; init; }

    /// <summary>Prefix tuning: compute the prefix with an MLP while training; null: false.</summary>
    public bool? PrefixProjection { get; init; }

    /// <summary>Prefix tuning with projection: the MLP's hidden width; null: the hidden size.</summary>
    public int? EncoderHiddenSize { get; init; }

    /// <summary>ReFT: the decoder layers intervened on, comma-separated indices or "all"; null: all.</summary>
    public string? ReftLayers { get; init; }

    /// <summary>ReFT: the prompt positions intervened on ("f3+l3": first 3 and last 3); null: the library's default.</summary>
    public string? ReftPositions { get; init; }

    /// <summary>AdapterFusion: comma-separated folders of trained series bottleneck (houlsby) adapters to fuse.</summary>
    public string? Fuse { get; init; }

    /// <summary>Quantize the base's Linear layers to 4 bits before adding the adapter (QLoRA for LoRA/DoRA; every
    /// method trains over the frozen 4-bit base).</summary>
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

    /// <summary>Peak learning rate; null: the method's default (<see cref="TrainMethods"/>: 3e-3 for LoRA, DoRA and
    /// AdapterFusion; 1e-2 for bottleneck adapters and BitFit; 3e-2 for ReFT; 0.1 for prompt tuning; 0.3 for IA3,
    /// LN tuning and prefix tuning).</summary>
    public double? Lr { get; init; }

    /// <summary>Optimizer: adamw (F32 moments) or adamw8bit (blockwise 8-bit moments, bitsandbytes' AdamW8bit).</summary>
    public string Optim { get; init; } = "adamw";

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

    /// <summary>Device the model (base and adapter) trains on: cpu, cuda:N, opencl:N or gpu-sim (ILGPU's CPU accelerator).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Where the adapter, log and loss curve go; null: runs/tiny-llama-&lt;method&gt;.</summary>
    public string? Output { get; init; }

    /// <summary>A checkpoint folder to resume from (written by an interrupted run under Output/checkpoints).</summary>
    public string? Resume { get; init; }

    /// <summary>Checkpoint every this many steps (0: only when interrupted).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>The output folder of the run.</summary>
    public string OutputDirectory => Output ?? TrainMethods.DefaultOutput(Method);

    /// <summary>Throws naming the first option that is out of range or that does not apply to the method.</summary>
    public void Validate()
    {
        if (Steps <= 0) throw new ArgumentException($"--steps must be positive, got {Steps}");
        if (Batch <= 0) throw new ArgumentException($"--batch must be positive, got {Batch}");
        if (SeqLen < 8) throw new ArgumentException($"--seq-len must be at least 8, got {SeqLen}");
        if (Lr is <= 0) throw new ArgumentException($"--lr must be positive, got {Lr}");
        if (LoadIn4Bit && QuantType is not ("nf4" or "fp4")) throw new ArgumentException($"--quant-type must be nf4 or fp4, got '{QuantType}'");
        if (Optim is not ("adamw" or "adamw8bit")) throw new ArgumentException($"--optim must be adamw or adamw8bit, got '{Optim}'");
        if (EvalExamples < 0 || Samples < 0) throw new ArgumentException("--eval-examples and --samples must not be negative");
        TrainMethods.Validate(this);
    }
}
