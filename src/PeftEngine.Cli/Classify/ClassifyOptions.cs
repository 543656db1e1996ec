namespace PeftEngine.Cli.Classify;

/// <summary>
/// Everything a sequence-classification fine-tune needs, with the defaults of
/// <c>peft train --model minilm --task classify</c>: LoRA on the query/value projections of all-MiniLM-L6-v2 plus a
/// trained classifier head, on the shipped SpamAssassin spam/ham set.
/// </summary>
public sealed record ClassifyOptions
{
    /// <summary>The shipped encoder's name (a folder under models/ filled by <c>peft import-minilm</c>).</summary>
    public const string DefaultModel = "minilm";

    /// <summary>A BERT folder (config.json, model.safetensors, vocab.txt) or the shipped name.</summary>
    public string Model { get; init; } = DefaultModel;

    /// <summary>LoRA rank.</summary>
    public int Rank { get; init; } = 8;

    /// <summary>LoRA alpha.</summary>
    public double Alpha { get; init; } = 16;

    /// <summary>Dropout on the LoRA input.</summary>
    public double Dropout { get; init; } = 0.1;

    /// <summary>Modules to adapt (HF's BERT defaults for LoRA: query, value).</summary>
    public string TargetModules { get; init; } = "query,value";

    /// <summary>Training JSONL (text, label); default: the model folder's data/spam-train.jsonl.</summary>
    public string? Data { get; init; }

    /// <summary>Held-out JSONL; default: the model folder's data/spam-valid.jsonl.</summary>
    public string? EvalData { get; init; }

    /// <summary>Optimizer steps.</summary>
    public int Steps { get; init; } = 120;

    /// <summary>Texts per step.</summary>
    public int Batch { get; init; } = 16;

    /// <summary>Longest text in tokens ([CLS] and [SEP] included); longer texts are cut.</summary>
    public int SeqLen { get; init; } = 64;

    /// <summary>Peak learning rate.</summary>
    public double Lr { get; init; } = 1e-3;

    /// <summary>Warm-up steps.</summary>
    public int Warmup { get; init; } = 10;

    /// <summary>Held-out texts scored (0: all).</summary>
    public int EvalExamples { get; init; }

    /// <summary>Seed of the head's initialisation, data order, dropout and the adapter.</summary>
    public ulong Seed { get; init; }

    /// <summary>CPU threads (0: all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Where the adapter, log and loss curve go.</summary>
    public string Output { get; init; } = Path.Combine("runs", "minilm-spam-lora");

    /// <summary>A checkpoint folder to resume from (written under Output/checkpoints by an interrupted run).</summary>
    public string? Resume { get; init; }

    /// <summary>Checkpoint every this many steps (0: only when interrupted).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Throws naming the first option that is out of range.</summary>
    public void Validate()
    {
        if (Rank <= 0) throw new ArgumentException($"--rank must be positive, got {Rank}");
        if (Steps <= 0) throw new ArgumentException($"--steps must be positive, got {Steps}");
        if (Batch <= 0) throw new ArgumentException($"--batch must be positive, got {Batch}");
        if (SeqLen < 4) throw new ArgumentException($"--seq-len must be at least 4, got {SeqLen}");
        if (Lr <= 0) throw new ArgumentException($"--lr must be positive, got {Lr}");
        if (Dropout is < 0 or >= 1) throw new ArgumentException($"--dropout must be in [0, 1), got {Dropout}");
        if (EvalExamples < 0) throw new ArgumentException("--eval-examples must not be negative");
        if (CheckpointEvery < 0) throw new ArgumentException($"--checkpoint-every must not be negative, got {CheckpointEvery}");
    }
}
