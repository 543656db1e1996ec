using System.Globalization;
using PeftEngine.Peft;
using PeftEngine.Peft.Adapters;
using PeftEngine.Peft.Ia3;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Prompt;
using PeftEngine.Peft.Reft;
using PeftEngine.Peft.Subset;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Cli.Train;

/// <summary>The adapter config a run trains, with a one-line description for the settings table.</summary>
/// <param name="Config">The method's config (LoraConfig, Ia3Config, BottleneckConfig, ...).</param>
/// <param name="Description">Method and its settings, e.g. "LoRA r=16 alpha=32 dropout=0.05 targets=all-linear".</param>
/// <param name="Label">Short method name for titles ("LoRA", "IA3", ...).</param>
public sealed record TrainMethodSetup(PeftConfig Config, string Description, string Label);

/// <summary>
/// The methods <c>peft train --method</c> accepts, which options apply to each, their per-method defaults, and the
/// mapping from <see cref="FineTuneOptions"/> to the library's config classes.
/// </summary>
public static partial class TrainMethods
{
    /// <summary>The method names accepted by <c>--method</c>, in the order they are listed.</summary>
    public static IReadOnlyList<string> Names => Methods.Keys.ToList();

    /// <summary>Per method: its label, default learning rate, and its config builder. The learning rates were screened
    /// on the shipped tiny-llama task (100-step runs, held-out loss; README, "Default learning rates"): vector and
    /// prompt methods train few parameters and want rates 10-100x LoRA's. BitFit (no biases in tiny-llama) was not
    /// screened.</summary>
    private static readonly OrderedDictionary<string, (string Label, double Lr, Func<FineTuneOptions, string, PeftConfig> Build)> Methods = new(StringComparer.Ordinal)
    {
        ["lora"] = ("LoRA", 3e-3, Lora),
        ["dora"] = ("DoRA", 3e-3, Lora),
        ["ia3"] = ("IA3", 3e-1, Ia3),
        ["bitfit"] = ("BitFit", 1e-2, BitFit),
        ["ln_tuning"] = ("LN tuning", 3e-1, LnTuning),
        ["houlsby"] = ("Houlsby adapter", 1e-2, Bottleneck),
        ["parallel"] = ("parallel adapter", 1e-2, Bottleneck),
        ["prompt_tuning"] = ("prompt tuning", 1e-1, PromptTuning),
        ["prefix_tuning"] = ("prefix tuning", 3e-1, PrefixTuning),
        ["loreft"] = ("LoReFT", 3e-2, Reft),
        ["direft"] = ("DiReFT", 3e-2, Reft),
        ["adapter_fusion"] = ("AdapterFusion", 3e-3, Fusion),
    };

    /// <summary>Which methods each method-specific option applies to (the option as written on the command line).</summary>
    private static readonly (string Option, Func<FineTuneOptions, bool> Given, string[] Methods)[] Applicability =
    [
        ("--rank", o => o.Rank is not null, ["lora", "dora", "loreft", "direft"]),
        ("--alpha", o => o.Alpha is not null, ["lora", "dora"]),
        ("--dropout", o => o.Dropout is not null, ["lora", "dora", "houlsby", "parallel", "loreft", "direft"]),
        ("--target-modules", o => o.TargetModules is not null, ["lora", "dora", "ia3", "bitfit", "ln_tuning", "houlsby", "parallel", "adapter_fusion"]),
        ("--init", o => o.Init is not null, ["lora", "dora"]),
        ("--feedforward-modules", o => o.FeedforwardModules is not null, ["ia3"]),
        ("--bottleneck-size", o => o.BottleneckSize is not null, ["houlsby", "parallel"]),
        ("--non-linearity", o => o.NonLinearity is not null, ["houlsby", "parallel"]),
        ("--adapter-scaling", o => o.AdapterScaling is not null, ["houlsby", "parallel"]),
        ("--num-virtual-tokens", o => o.NumVirtualTokens is not null, ["prompt_tuning", "prefix_tuning"]),
        ("--prompt-init", o => o.PromptInit is not null, ["prompt_tuning"]),
        ("--prompt-init-text", o => o.PromptInitText is not null, ["prompt_tuning"]),
        ("--prefix-projection", o => o.PrefixProjection is not null, ["prefix_tuning"]),
        ("--encoder-hidden-size", o => o.EncoderHiddenSize is not null, ["prefix_tuning"]),
        ("--reft-layers", o => o.ReftLayers is not null, ["loreft", "direft"]),
        ("--reft-positions", o => o.ReftPositions is not null, ["loreft", "direft"]),
        ("--fuse", o => o.Fuse is not null, ["adapter_fusion"]),
    ];

    /// <summary>The normalised method name ("LoRA" → "lora", "ln-tuning" → "ln_tuning"), or a clear error listing
    /// the methods.</summary>
    public static string Normalize(string method)
    {
        string m = method.Trim().ToLowerInvariant().Replace('-', '_');
        if (m is "ln" or "lntuning") m = "ln_tuning";
        if (m is "prompt") m = "prompt_tuning";
        if (m is "prefix") m = "prefix_tuning";
        if (m is "bottleneck") m = "houlsby";
        if (m is "fusion") m = "adapter_fusion";
        return Methods.ContainsKey(m) ? m
            : throw new ArgumentException($"--method '{method}' is not available in `peft train`; available: {string.Join(", ", Names)}");
    }

    /// <summary>Throws for an unknown method or a method-specific option given to a method it does not apply to.</summary>
    public static void Validate(FineTuneOptions o)
    {
        string m = Normalize(o.Method);
        var wrong = Applicability.Where(a => a.Given(o) && !a.Methods.Contains(m)).ToList();
        if (wrong.Count > 0)
            throw new ArgumentException(string.Join("; ", wrong.Select(w =>
                $"{w.Option} does not apply to --method {m} (it applies to {string.Join(", ", w.Methods.Where(Methods.ContainsKey))})")));
        if (o.UseDora && m != "lora" && m != "dora") throw new ArgumentException($"use-dora does not apply to --method {m}");
        if (o.Rank is <= 0) throw new ArgumentException($"--rank must be positive, got {o.Rank}");
        if (o.Dropout is < 0 or >= 1) throw new ArgumentException($"--dropout must be in [0, 1), got {o.Dropout}");
        if (o.BottleneckSize is <= 0) throw new ArgumentException($"--bottleneck-size must be positive, got {o.BottleneckSize}");
        if (o.NumVirtualTokens is <= 0) throw new ArgumentException($"--num-virtual-tokens must be positive, got {o.NumVirtualTokens}");
        if (o.EncoderHiddenSize is <= 0) throw new ArgumentException($"--encoder-hidden-size must be positive, got {o.EncoderHiddenSize}");
    }

    /// <summary>The learning rate of the run: <see cref="FineTuneOptions.Lr"/>, or the method's default.</summary>
    public static double LearningRate(FineTuneOptions o) => o.Lr ?? Methods[Normalize(o.Method)].Lr;

    /// <summary>The default output folder of a method: runs/tiny-llama-&lt;method&gt;.</summary>
    public static string DefaultOutput(string method) => Path.Combine("runs", "tiny-llama-" + Normalize(method).Replace('_', '-'));

    /// <summary>The config of the run's method for the model at <paramref name="modelPath"/>, with its description.</summary>
    public static TrainMethodSetup Create(FineTuneOptions o, string modelPath)
    {
        Validate(o);
        string m = Normalize(o.Method);
        var (label, _, build) = Methods[m];
        var config = build(o, modelPath);
        return new TrainMethodSetup(config, Describe(label, config, o), label);
    }

    /// <summary>True when the method's adapter can be folded into the base weights by <c>peft merge</c>.</summary>
    /// <remarks>LoRA and DoRA, IA3, LN tuning and BitFit change the base weights linearly; bottleneck adapters,
    /// AdapterFusion, prompt/prefix tuning and ReFT add modules, inputs or interventions that a weight cannot hold.</remarks>
    public static bool IsMergeable(string peftType) => peftType is "LORA" or "IA3" or "LN_TUNING" or "BITFIT";

    private static TargetModules? Targets(string? names) => names switch
    {
        null => null,
        "all-linear" => TargetModules.AllLinear,
        _ => TargetModules.Of(names.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)),
    };

    private static PeftConfig Lora(FineTuneOptions o, string modelPath)
    {
        string init = o.Init ?? "default";
        return new LoraConfig
        {
            R = o.Rank ?? 16,
            LoraAlpha = o.Alpha ?? 32,
            LoraDropout = o.Dropout ?? 0.05,
            UseDora = o.UseDora || Normalize(o.Method) == "dora",
            TargetModules = Targets(o.TargetModules ?? "all-linear"),
            TaskType = "CAUSAL_LM",
            InitLoraWeights = InitKind(init),
            PissaNiter = init.StartsWith("pissa_niter_", StringComparison.Ordinal) ? int.Parse(init["pissa_niter_".Length..], CultureInfo.InvariantCulture) : null,
            BaseModelNameOrPath = modelPath,
        };
    }

    /// <summary>The LoRA initialisation named by --init.</summary>
    public static LoraInit InitKind(string init) => init switch
    {
        "default" or "true" => LoraInit.Default,
        "gaussian" => LoraInit.Gaussian,
        "loftq" => LoraInit.Loftq,
        _ when init == "pissa" || (init.StartsWith("pissa_niter_", StringComparison.Ordinal) && int.TryParse(init["pissa_niter_".Length..], out int n) && n > 0) => LoraInit.Pissa,
        _ => throw new ArgumentException($"--init must be default, gaussian, pissa, pissa_niter_N or loftq, got '{init}'"),
    };

    private static PeftConfig Ia3(FineTuneOptions o, string modelPath)
    {
        var config = new Ia3Config
        {
            TargetModules = Targets(o.TargetModules),
            FeedforwardModules = o.FeedforwardModules switch
            {
                null => null,
                "" or "none" => Ia3Config.NoFeedforward,
                var f => Targets(f),
            },
            TaskType = "CAUSAL_LM",
            BaseModelNameOrPath = modelPath,
        };
        if (config.TargetModules is not null && config.FeedforwardModules is null)
            throw new ArgumentException("--method ia3 with --target-modules also needs --feedforward-modules (the targets whose input is scaled, or 'none')");
        config.Validate();
        return config;
    }

    private static PeftConfig BitFit(FineTuneOptions o, string modelPath) =>
        new BitFitConfig { TargetModules = Targets(o.TargetModules), TaskType = "CAUSAL_LM", BaseModelNameOrPath = modelPath };

    private static PeftConfig LnTuning(FineTuneOptions o, string modelPath) =>
        new LnTuningConfig { TargetModules = Targets(o.TargetModules), TaskType = "CAUSAL_LM", BaseModelNameOrPath = modelPath };

    private static PeftConfig Bottleneck(FineTuneOptions o, string modelPath)
    {
        bool parallel = Normalize(o.Method) == "parallel";
        var preset = parallel ? BottleneckConfig.Parallel(o.BottleneckSize) : BottleneckConfig.Houlsby(o.BottleneckSize);
        var config = preset with
        {
            NonLinearity = o.NonLinearity ?? preset.NonLinearity,
            Scaling = o.AdapterScaling ?? preset.Scaling,
            AdapterDropout = o.Dropout ?? preset.AdapterDropout,
            TargetModules = Targets(o.TargetModules),
            TaskType = "CAUSAL_LM",
            BaseModelNameOrPath = modelPath,
        };
        config.Validate();
        return config;
    }

    private static PeftConfig PromptTuning(FineTuneOptions o, string modelPath)
    {
        var init = (o.PromptInit ?? (o.PromptInitText is null ? "sample_vocab" : "text")).ToLowerInvariant() switch
        {
            "random" => PromptTuningInit.Random,
            "sample_vocab" or "sample-vocab" => PromptTuningInit.SampleVocab,
            "text" => PromptTuningInit.Text,
            var other => throw new ArgumentException($"--prompt-init must be random, sample_vocab or text, got '{other}'"),
        };
        if (init == PromptTuningInit.Text && string.IsNullOrEmpty(o.PromptInitText))
            throw new ArgumentException("--prompt-init text needs --prompt-init-text");
        if (init != PromptTuningInit.Text && o.PromptInitText is not null)
            throw new ArgumentException($"--prompt-init-text applies to --prompt-init text, not {init.ToString().ToLowerInvariant()}");
        var config = new PromptTuningConfig
        {
            NumVirtualTokens = o.NumVirtualTokens ?? 20,
            PromptTuningInit = init,
            PromptTuningInitText = o.PromptInitText,
            TokenizerNameOrPath = init == PromptTuningInit.Text ? modelPath : null,
            TaskType = "CAUSAL_LM",
            BaseModelNameOrPath = modelPath,
        };
        config.Validate();
        return config;
    }

    private static PeftConfig PrefixTuning(FineTuneOptions o, string modelPath)
    {
        if (o.EncoderHiddenSize is not null && o.PrefixProjection != true)
            throw new ArgumentException("--encoder-hidden-size applies with --prefix-projection");
        return new PrefixTuningConfig
        {
            NumVirtualTokens = o.NumVirtualTokens ?? 20,
            PrefixProjection = o.PrefixProjection ?? false,
            EncoderHiddenSize = o.EncoderHiddenSize,
            TaskType = "CAUSAL_LM",
            BaseModelNameOrPath = modelPath,
        };
    }

    private static PeftConfig Reft(FineTuneOptions o, string modelPath)
    {
        int[]? layers = o.ReftLayers is null or "all" ? null
            : o.ReftLayers.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(t => int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out int l) && l >= 0 ? l
                    : throw new ArgumentException($"--reft-layers must be 'all' or comma-separated layer indices, got '{o.ReftLayers}'"))
                .ToArray();
        string positions = o.ReftPositions ?? "f1+l1";
        ReftPositions.Parse(positions);   // a clear error for a bad spec before the model loads
        ReftConfig config = Normalize(o.Method) == "loreft" ? new LoreftConfig() : new DireftConfig();
        return config with
        {
            Layers = layers, Positions = positions, LowRankDimension = o.Rank ?? 4, Dropout = o.Dropout ?? 0,
            TaskType = "CAUSAL_LM", BaseModelNameOrPath = modelPath,
        };
    }

    private static PeftConfig Fusion(FineTuneOptions o, string modelPath)
    {
        if (o.Fuse is null) throw new ArgumentException("--method adapter_fusion needs --fuse DIR1,DIR2 (folders of adapters trained with --method houlsby)");
        var config = new AdapterFusionConfig
        {
            Adapters = AdapterFolders.FusedFolders(o.Fuse).Select(f => f.Name).ToArray(),
            TargetModules = Targets(o.TargetModules),
            TaskType = "CAUSAL_LM",
            BaseModelNameOrPath = modelPath,
        };
        config.Validate();
        return config;
    }

    private static string Describe(string label, PeftConfig config, FineTuneOptions o)
    {
        var c = CultureInfo.InvariantCulture;
        return config switch
        {
            LoraConfig l => string.Create(c, $"{(o.LoadIn4Bit ? "Q" : "")}{(l.UseDora ? "DoRA" : "LoRA")} r={l.R} alpha={l.LoraAlpha} dropout={l.LoraDropout} targets={o.TargetModules ?? "all-linear"}{(o.Init is { } i && i != "default" ? $" init={i}" : "")}"),
            Ia3Config a => $"IA3 targets={a.TargetModules?.ToString() ?? "default (k_proj, v_proj, down_proj on LLaMA)"} feedforward={a.FeedforwardModules?.ToString() ?? "default"}",
            BitFitConfig b => $"BitFit targets={b.TargetModules?.ToString() ?? "every module with a bias"}",
            LnTuningConfig n => $"LN tuning targets={n.TargetModules?.ToString() ?? "default (the RMSNorm layers on LLaMA)"}",
            BottleneckConfig b => string.Create(c, $"{label} bottleneck={(b.BottleneckSize?.ToString(c) ?? $"width/{b.ReductionFactor}")} f={b.NonLinearity} scaling={b.Scaling} dropout={b.AdapterDropout} targets={b.TargetModules?.ToString() ?? "default"}"),
            PromptTuningConfig p => $"prompt tuning {p.NumVirtualTokens} virtual tokens, init {p.PromptTuningInit.ToString().ToLowerInvariant()}",
            PrefixTuningConfig p => string.Create(c, $"prefix tuning {p.NumVirtualTokens} virtual tokens per layer{(p.PrefixProjection ? $", MLP projection (hidden {p.EncoderHiddenSize?.ToString(c) ?? "= model width"})" : "")}"),
            ReftConfig r => $"{label} rank {r.LowRankDimension} on layers {(r.Layers is null ? "all" : string.Join(",", r.Layers))} at positions {r.Positions} dropout {r.Dropout}",
            AdapterFusionConfig f => string.Create(c, $"AdapterFusion of {string.Join(", ", f.Adapters)} (frozen) temperature={f.Temperature} targets={f.TargetModules?.ToString() ?? "every sub-layer holding all of them"}"),
            _ => label,
        };
    }
}
