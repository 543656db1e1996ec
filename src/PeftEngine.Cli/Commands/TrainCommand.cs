using System.ComponentModel;
using PeftEngine.Cli.Classify;
using PeftEngine.Cli.Train;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary><c>peft train</c>: fine-tune a causal LM with a PEFT adapter (by default LoRA on the shipped tiny-llama
/// and its question-answering set) and report held-out loss, perplexity and exact match before and after.</summary>
public sealed class TrainCommand : Command<TrainCommand.Settings>
{
    /// <summary>Options of <c>peft train</c>; any of them may also come from <c>--config FILE</c> (YAML or JSON).</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--config <FILE>"), Description("YAML or JSON file with any of these options (keys as the option names, e.g. 'seq-len: 128'), for either task; flags given on the command line win (default: none)")]
        public string? Config { get; init; }

        [CommandOption("--model <MODEL>"), Description("Base model: a shipped name (tiny-llama, or minilm for classification), a Hugging Face folder or a GGUF file (default: tiny-llama; minilm with --task classify)")]
        public string? Model { get; init; }

        [CommandOption("--task <TASK>"), Description("causal-lm (instruction tuning of a decoder) or classify (LoRA + a trained head on a BERT encoder, labelled JSONL with text/label) (default: classify for --model minilm or a BERT folder, else causal-lm)")]
        public string? Task { get; init; }

        [CommandOption("--method <METHOD>"), Description("PEFT method: lora, dora, ia3, bitfit (needs a model with biases), ln_tuning, houlsby (series bottleneck adapters) parallel (parallel bottleneck adapter beside the FFN), prompt_tuning, prefix_tuning, loreft, direft, or adapter_fusion (attention over trained houlsby adapters given with --fuse) (default: lora)")]
        public string? Method { get; init; }

        [CommandOption("-r|--rank <R>"), Description("lora/dora: rank (default: 16; classify: 8); loreft/direft: rank of the intervened subspace (default: 4)")]
        public int? Rank { get; init; }

        [CommandOption("--alpha <ALPHA>"), Description("lora/dora: alpha; the update is scaled by alpha / rank (default: 32; classify: 16)")]
        public double? Alpha { get; init; }

        [CommandOption("--dropout <P>"), Description("lora/dora, houlsby/parallel, loreft/direft: dropout on the adapter input (default: lora 0.05, others 0; classify: 0.1)")]
        public double? Dropout { get; init; }

        [CommandOption("--target-modules <NAMES>"), Description("Modules to adapt: all-linear, or comma-separated module names/suffixes such as q_proj,v_proj (default: lora/dora all-linear; ia3 k_proj,v_proj,down_proj; ln_tuning the norm layers; bitfit every module with a bias; houlsby the attention and MLP outputs; parallel the MLP; adapter_fusion every sub-layer holding all fused adapters; classify: query,value)")]
        public string? TargetModules { get; init; }

        [CommandOption("--init <INIT>"), Description("lora/dora: initialisation: default, gaussian, pissa, pissa_niter_N or loftq; a PiSSA adapter is saved converted to a LoRA of the original base (default: default)")]
        public string? Init { get; init; }

        [CommandOption("--feedforward-modules <NAMES>"), Description("ia3: comma-separated targets whose input (not output) is scaled, or none (default: down_proj on LLaMA; required with --target-modules)")]
        public string? FeedforwardModules { get; init; }

        [CommandOption("--bottleneck-size <M>"), Description("houlsby/parallel: bottleneck width (default: the adapted width / 16)")]
        public int? BottleneckSize { get; init; }

        [CommandOption("--non-linearity <F>"), Description("houlsby/parallel: relu, gelu, gelu_new, silu or tanh (default: houlsby gelu, parallel relu)")]
        public string? NonLinearity { get; init; }

        [CommandOption("--adapter-scaling <S>"), Description("houlsby/parallel: factor on the adapter output (default: houlsby 1, parallel 4)")]
        public double? AdapterScaling { get; init; }

        [CommandOption("--num-virtual-tokens <N>"), Description("prompt_tuning/prefix_tuning: number of virtual tokens (default: 20)")]
        public int? NumVirtualTokens { get; init; }

        [CommandOption("--prompt-init <INIT>"), Description("prompt_tuning: how the virtual tokens start: random, sample_vocab (embeddings of random vocabulary tokens) or text (default: sample_vocab; text with --prompt-init-text)")]
        public string? PromptInit { get; init; }

        [CommandOption("--prompt-init-text <TEXT>"), Description("prompt_tuning: text whose token embeddings start the virtual tokens, implies --prompt-init text (default: none)")]
        public string? PromptInitText { get; init; }

        [CommandOption("--prefix-projection <BOOL>"), Description("prefix_tuning: compute the prefix with an MLP while training (the saved prefix is its output) (default: false)")]
        public bool? PrefixProjection { get; init; }

        [CommandOption("--encoder-hidden-size <N>"), Description("prefix_tuning with --prefix-projection true: hidden width of the MLP (default: the model width)")]
        public int? EncoderHiddenSize { get; init; }

        [CommandOption("--reft-layers <LAYERS>"), Description("loreft/direft: decoder layers intervened on, comma-separated indices or all (default: all)")]
        public string? ReftLayers { get; init; }

        [CommandOption("--reft-positions <SPEC>"), Description("loreft/direft: prompt positions intervened on: fN (first N), lN (last N) or fN+lM (default: f1+l1)")]
        public string? ReftPositions { get; init; }

        [CommandOption("--load-in-4bit"), Description("Quantize the base's Linear layers to 4 bits before adding the adapter (QLoRA with lora/dora; every method trains over the frozen 4-bit base) (default: false)")]
        public bool? LoadIn4Bit { get; init; }

        [CommandOption("--quant-type <TYPE>"), Description("4-bit type with --load-in-4bit: nf4 or fp4 (default: nf4)")]
        public string? QuantType { get; init; }

        [CommandOption("--double-quant <BOOL>"), Description("Double-quantize the 4-bit block scales (default: true)")]
        public bool? DoubleQuant { get; init; }

        [CommandOption("--fuse <DIRS>"), Description("adapter_fusion: comma-separated folders of trained houlsby adapters to fuse; they are saved beside the fusion (default: none, required)")]
        public string? Fuse { get; init; }

        [CommandOption("--data <FILE>"), Description("Training JSONL (Alpaca instruction/input/output, chat messages, or text) (default: the model's data/qa-train.jsonl; classify: JSONL with text and label, data/spam-train.jsonl)")]
        public string? Data { get; init; }

        [CommandOption("--eval-data <FILE>"), Description("Held-out JSONL (default: the model's data/qa-valid.jsonl; classify: data/spam-valid.jsonl)")]
        public string? EvalData { get; init; }

        [CommandOption("--steps <N>"), Description("Optimizer steps (default: 240; classify: 120)")]
        public int? Steps { get; init; }

        [CommandOption("-b|--batch <N>"), Description("Sequences per step (default: 16)")]
        public int? Batch { get; init; }

        [CommandOption("--seq-len <N>"), Description("Longest training sequence in tokens (default: 160; classify: 64)")]
        public int? SeqLen { get; init; }

        [CommandOption("--lr <LR>"), Description("Peak learning rate (cosine schedule) (default: 0.003 for lora, dora, adapter_fusion; 0.01 for houlsby, parallel, bitfit; 0.03 for loreft, direft; 0.1 for prompt_tuning; 0.3 for ia3, ln_tuning, prefix_tuning; classify: 0.001)")]
        public double? Lr { get; init; }

        [CommandOption("--optim <NAME>"), Description("Optimizer: adamw, or adamw8bit (moments stored in 8 bits, bitsandbytes' AdamW8bit; CPU only) (default: adamw)")]
        public string? Optim { get; init; }

        [CommandOption("--warmup <N>"), Description("Warm-up steps (default: 20; classify: 10)")]
        public int? Warmup { get; init; }

        [CommandOption("--eval-examples <N>"), Description("Held-out questions answered for the exact-match score; with classify, held-out texts scored, 0 for all (default: 100; classify: 0)")]
        public int? EvalExamples { get; init; }

        [CommandOption("--samples <N>"), Description("Sample answers shown before and after (default: 3)")]
        public int? Samples { get; init; }

        [CommandOption("--seed <SEED>"), Description("Seed of data order, dropout and adapter initialisation (default: 0)")]
        public ulong? Seed { get; init; }

        [CommandOption("--threads <N>"), Description("CPU threads, 0 for all cores (default: 0)")]
        public int? Threads { get; init; }

        [CommandOption("-o|--output <DIR>"), Description("Output folder for the adapter, training log and loss curve (default: runs/tiny-llama-<method>; classify: runs/minilm-spam-lora)")]
        public string? Output { get; init; }

        [CommandOption("--resume <CHECKPOINT>"), Description("Continue an interrupted run (either task) from its checkpoint folder, or from the run's checkpoints folder (its newest checkpoint) (default: start fresh)")]
        public string? Resume { get; init; }

        [CommandOption("--checkpoint-every <N>"), Description("Save a resumable checkpoint (under OUTPUT/checkpoints) every N steps; 0 saves only when interrupted by Ctrl+C (default: 0)")]
        public int? CheckpointEvery { get; init; }

        [CommandOption("--device <DEVICE>"), Description(DeviceOption.Help)]
        public string? Device { get; init; }
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var s = ConfigFile.WithFile(settings, settings.Config);
        if (IsClassify(s))
        {
            if (!DeviceOption.Parse(s.Device).IsHost) throw new ArgumentException("--device: --task classify trains on the CPU only");
            var classify = ToClassifyOptions(s);
            return Interruptible(cancellationToken, token =>
                new ClassifyJob(classify, new ConsoleClassifyReporter(AnsiConsole.Console)).Run(token).Interrupted);
        }
        var options = ToOptions(s);
        return Interruptible(cancellationToken, token =>
            new FineTuneJob(options, new ConsoleFineTuneReporter(AnsiConsole.Console, options.Samples)).Run(token).Interrupted);
    }

    /// <summary>Runs a training job with Ctrl+C turned into a cancellation (the job finishes the current step, saves
    /// a checkpoint and returns); exit code 130 when it was interrupted, else 0.</summary>
    private static int Interruptible(CancellationToken cancellationToken, Func<CancellationToken, bool> run)
    {
        using var interrupt = new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(interrupt.Token, cancellationToken);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;             // finish the current step, save a checkpoint, then stop
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try { return run(linked.Token) ? 130 : 0; }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    internal static bool IsClassify(Settings s) => s.Task?.ToLowerInvariant() switch
    {
        null => string.Equals(s.Model, ClassifyOptions.DefaultModel, StringComparison.Ordinal) || IsBertFolder(s.Model),
        "classify" or "seq-cls" or "seq_cls" => true,
        "causal-lm" or "causal_lm" => false,
        _ => throw new ArgumentException($"--task must be causal-lm or classify, got '{s.Task}'"),
    };

    /// <summary>Whether <paramref name="model"/> is a folder whose config.json describes a BERT encoder.</summary>
    private static bool IsBertFolder(string? model)
    {
        if (model is null || !Directory.Exists(model)) return false;
        string config = Path.Combine(model, "config.json");
        return File.Exists(config) && IO.HfConfig.Load(config).ModelType == "bert";
    }

    /// <summary>The classification defaults, overridden by the config file, overridden by flags; options of the
    /// causal-LM job are refused by name.</summary>
    internal static ClassifyOptions ToClassifyOptions(Settings settings)
    {
        var s = ConfigFile.WithFile(settings, settings.Config);
        var unsupported = new (string Name, bool Given)[]
        {
            ("--init", s.Init is not null), ("--load-in-4bit", s.LoadIn4Bit is not null), ("--quant-type", s.QuantType is not null),
            ("--double-quant", s.DoubleQuant is not null), ("--samples", s.Samples is not null), ("--fuse", s.Fuse is not null),
            ("--feedforward-modules", s.FeedforwardModules is not null), ("--bottleneck-size", s.BottleneckSize is not null),
            ("--non-linearity", s.NonLinearity is not null), ("--adapter-scaling", s.AdapterScaling is not null),
            ("--num-virtual-tokens", s.NumVirtualTokens is not null), ("--prompt-init", s.PromptInit is not null),
            ("--prompt-init-text", s.PromptInitText is not null), ("--prefix-projection", s.PrefixProjection is not null),
            ("--encoder-hidden-size", s.EncoderHiddenSize is not null), ("--reft-layers", s.ReftLayers is not null),
            ("--reft-positions", s.ReftPositions is not null), ("--optim", s.Optim is not null),
        }.Where(u => u.Given).Select(u => u.Name).ToList();
        if (unsupported.Count > 0) throw new ArgumentException($"{string.Join(", ", unsupported)} not available with --task classify");
        if (s.Method is { } m && !string.Equals(m, "lora", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"--task classify trains LoRA only, got --method '{m}'");
        var o = new ClassifyOptions();
        return o with
        {
            Model = s.Model ?? o.Model, Rank = s.Rank ?? o.Rank, Alpha = s.Alpha ?? o.Alpha, Dropout = s.Dropout ?? o.Dropout,
            TargetModules = s.TargetModules ?? o.TargetModules, Data = s.Data ?? o.Data, EvalData = s.EvalData ?? o.EvalData,
            Steps = s.Steps ?? o.Steps, Batch = s.Batch ?? o.Batch, SeqLen = s.SeqLen ?? o.SeqLen, Lr = s.Lr ?? o.Lr,
            Warmup = s.Warmup ?? o.Warmup, EvalExamples = s.EvalExamples ?? o.EvalExamples, Seed = s.Seed ?? o.Seed,
            Threads = s.Threads ?? o.Threads, Output = s.Output ?? o.Output, Resume = s.Resume ?? o.Resume,
            CheckpointEvery = s.CheckpointEvery ?? o.CheckpointEvery,
        };
    }

    /// <summary>Defaults, overridden by the config file, overridden by flags.</summary>
    internal static FineTuneOptions ToOptions(Settings settings)
    {
        var s = ConfigFile.WithFile(settings, settings.Config);
        var o = new FineTuneOptions();
        return o with
        {
            Model = s.Model ?? o.Model, Method = s.Method ?? o.Method, Rank = s.Rank ?? o.Rank, Alpha = s.Alpha ?? o.Alpha,
            Dropout = s.Dropout ?? o.Dropout, TargetModules = s.TargetModules ?? o.TargetModules, Data = s.Data ?? o.Data,
            EvalData = s.EvalData ?? o.EvalData, Steps = s.Steps ?? o.Steps, Batch = s.Batch ?? o.Batch, SeqLen = s.SeqLen ?? o.SeqLen,
            Lr = s.Lr ?? o.Lr, Optim = s.Optim?.ToLowerInvariant() ?? o.Optim, Warmup = s.Warmup ?? o.Warmup, EvalExamples = s.EvalExamples ?? o.EvalExamples,
            Samples = s.Samples ?? o.Samples, Seed = s.Seed ?? o.Seed, Threads = s.Threads ?? o.Threads, Output = s.Output ?? o.Output,
            Resume = s.Resume ?? o.Resume, CheckpointEvery = s.CheckpointEvery ?? o.CheckpointEvery,
            Init = s.Init ?? o.Init, FeedforwardModules = s.FeedforwardModules ?? o.FeedforwardModules,
            BottleneckSize = s.BottleneckSize ?? o.BottleneckSize, NonLinearity = s.NonLinearity ?? o.NonLinearity,
            AdapterScaling = s.AdapterScaling ?? o.AdapterScaling, NumVirtualTokens = s.NumVirtualTokens ?? o.NumVirtualTokens,
            PromptInit = s.PromptInit ?? o.PromptInit, PromptInitText = s.PromptInitText ?? o.PromptInitText,
            PrefixProjection = s.PrefixProjection ?? o.PrefixProjection, EncoderHiddenSize = s.EncoderHiddenSize ?? o.EncoderHiddenSize,
            Device = s.Device ?? o.Device, ReftLayers = s.ReftLayers ?? o.ReftLayers, ReftPositions = s.ReftPositions ?? o.ReftPositions, LoadIn4Bit = s.LoadIn4Bit ?? o.LoadIn4Bit, QuantType = s.QuantType ?? o.QuantType, DoubleQuant = s.DoubleQuant ?? o.DoubleQuant,
            Fuse = s.Fuse ?? o.Fuse,
        };
    }
}
