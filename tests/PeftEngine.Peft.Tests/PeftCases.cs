using PeftEngine.Nn;
using PeftEngine.Peft;
using PeftEngine.Peft.Ia3;
using PeftEngine.Peft.Adapters;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Reft;
using PeftEngine.Peft.Subset;
using PeftEngine.Peft.Prompt;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Tests;

/// <summary>
/// One entry of the conformance suite: a tiny model, its input, and a method config. <see cref="Config"/> receives
/// <c>nonIdentity</c>: false gives the method's own initialisation (identity where the paper says so), true an
/// initialisation that changes the output (HF's set_init_weights_false). Adding a method = adding entries here.
/// <see cref="Mergeable"/> false: merging must raise NotSupportedException naming the method (HF's behaviour for
/// methods that cannot be folded into the weights: bottleneck adapters, ReFT). <see cref="MethodParameterMarkers"/> lists the name parts that
/// mark each method's parameters.
/// <see cref="PromptLearning"/> marks prompt tuning / prefix tuning, where the suite legitimately differs: their
/// parameters live under <c>prompt_encoder.</c> (not in the model), the file holds the single key
/// <c>prompt_embeddings</c>, merging throws NotSupportedException, and mixed batches are not supported (HF has none).
/// </summary>
public sealed record PeftCase(
    string Name,
    Func<Generator, Module> Model,
    Func<Tensor> Input,
    Func<bool, PeftConfig> Config,
    bool IdentityAtInit = true,
    bool MixedBatches = true,
    double MergeTolerance = 1e-4,
    bool Mergeable = true,
    bool PromptLearning = false)
{
    /// <summary>True for a parameter the adapter trains (the method's tensors / modules_to_save copies, or its prompt encoder).</summary>
    public bool IsAdapterParameter(string name) => PromptLearning
        ? name.StartsWith("prompt_encoder.", StringComparison.Ordinal)
        : PeftCases.IsAdapterParameter(name);

    public override string ToString() => Name;
}

/// <summary>The cases of the suite.</summary>
public static class PeftCases
{
    private static LoraInit Init(bool nonIdentity) => nonIdentity ? LoraInit.Random : LoraInit.Default;

    /// <summary>Name segments of the per-adapter tensors each method adds (modules_to_save copies excluded).</summary>
    public static readonly string[] MethodParameterMarkers = [".lora_", ".ia3_l.", ".ln_tuning_layers.", ".bitfit.", ".adapter_down.", ".adapter_up.", ".adapter_fusion.", ".reft."];

    /// <summary>True for a parameter a method adds per adapter (not a modules_to_save copy).</summary>
    public static bool IsMethodParameter(string name) => MethodParameterMarkers.Any(name.Contains);

    /// <summary>True for every per-adapter parameter: the method's own and the modules_to_save copies.</summary>
    public static bool IsAdapterParameter(string name) => IsMethodParameter(name) || name.Contains(".modules_to_save.");

    private static BottleneckInit BnInit(bool nonIdentity, BottleneckInit init) => nonIdentity ? BottleneckInit.Bert : init;

    public static IReadOnlyList<PeftCase> All { get; } =
    [
        new("mlp-lora-lin0", g => new TestMlp(g), TestMlp.Input,
            n => new LoraConfig { TargetModules = TargetModules.Of("lin0"), InitLoraWeights = Init(n) }),
        new("mlp-lora-both-alpha-dropout", g => new TestMlp(g), TestMlp.Input,
            n => new LoraConfig { TargetModules = TargetModules.Of("lin0", "lin1"), R = 4, LoraAlpha = 16, LoraDropout = 0.1, InitLoraWeights = Init(n) }),
        new("mlp-lora-regex-modules-to-save", g => new TestMlp(g), TestMlp.Input,
            n => new LoraConfig { TargetModules = "lin0", ModulesToSave = ["lin1"], InitLoraWeights = Init(n) }),
        new("mlp-rslora-gaussian", g => new TestMlp(g), TestMlp.Input,
            n => new LoraConfig { TargetModules = TargetModules.Of("lin0"), UseRslora = true, LoraAlpha = 6, InitLoraWeights = n ? LoraInit.Random : LoraInit.Gaussian }),
        new("mlp-dora", g => new TestMlp(g), TestMlp.Input,
            n => new LoraConfig { TargetModules = TargetModules.Of("lin0", "lin1"), UseDora = true, InitLoraWeights = Init(n) }, MixedBatches: false),
        new("emb-lora-embedding", g => new TestEmbModel(g), TestEmbModel.Input,
            n => new LoraConfig { TargetModules = TargetModules.Of("emb", "lin0"), R = 3, InitLoraWeights = Init(n) }),
        new("conv2d-lora", g => new TestConvModel(g), TestConvModel.Input,
            n => new LoraConfig { TargetModules = TargetModules.Of("conv"), R = 2, InitLoraWeights = Init(n) }),
        new("emb-dora-embedding", g => new TestEmbModel(g), TestEmbModel.Input,
            n => new LoraConfig { TargetModules = TargetModules.Of("emb", "lin0"), R = 3, UseDora = true, InitLoraWeights = Init(n) }, MixedBatches: false),
        new("conv2d-dora", g => new TestConvModel(g), TestConvModel.Input,
            n => new LoraConfig { TargetModules = TargetModules.Of("conv"), R = 2, UseDora = true, InitLoraWeights = Init(n) }, MixedBatches: false),
        new("gpt2-lora-c_attn", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new LoraConfig { TargetModules = TargetModules.Of("c_attn"), R = 4, LoraAlpha = 8, InitLoraWeights = Init(n) }),
        new("gpt2-lora-all-linear", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new LoraConfig { TargetModules = TargetModules.AllLinear, R = 2, InitLoraWeights = Init(n) }),
        new("gpt2-lora-wpe-c_fc", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new LoraConfig { TargetModules = TargetModules.Of("wpe", "c_fc"), R = 2, InitLoraWeights = Init(n) },
            MixedBatches: false),   // wpe sees positions (T), not one row per sample
        new("gpt2-lora-layer1-rank-pattern", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new LoraConfig
            {
                TargetModules = TargetModules.Of("c_attn", "c_fc"), LayersToTransform = [1], R = 2,
                RankPattern = new Dictionary<string, int> { ["c_fc"] = 3 }, AlphaPattern = new Dictionary<string, double> { ["c_attn"] = 5 },
                InitLoraWeights = Init(n),
            }),
        new("gpt2-dora-c_attn-c_proj", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new LoraConfig { TargetModules = TargetModules.Of("c_attn", "c_proj"), UseDora = true, R = 4, InitLoraWeights = Init(n) }, MixedBatches: false),
        new("llama-lora-q-v", g => TestLlama.Create(g), TestLlama.Input,
            n => new LoraConfig { TargetModules = TargetModules.Of("q_proj", "v_proj"), R = 4, LoraAlpha = 8, InitLoraWeights = Init(n) }),
        new("llama-lora-all-linear-rslora", g => TestLlama.Create(g), TestLlama.Input,
            n => new LoraConfig { TargetModules = TargetModules.AllLinear, R = 2, UseRslora = true, InitLoraWeights = Init(n) }),
        new("llama-dora-mlp-layer0", g => TestLlama.Create(g), TestLlama.Input,
            n => new LoraConfig { TargetModules = TargetModules.Of("gate_proj", "up_proj", "down_proj"), LayersToTransform = [0], UseDora = true, R = 2, InitLoraWeights = Init(n) },
            MixedBatches: false),
        // ReFT: not identity at init (W, b start as nn.Linear), not mergeable; the flag n changes nothing
        new("llama-loreft-f1+l1", g => TestLlama.Create(g), TestLlama.Input,
            n => new LoreftConfig { Layers = [0, 1], Positions = "f1+l1", LowRankDimension = 4 }, IdentityAtInit: false, Mergeable: false),
        new("llama-loreft-shared-l2-dropout-relu", g => TestLlama.Create(g), TestLlama.Input,
            n => new LoreftConfig { Layers = [1], Positions = "l2", ShareWeights = true, Dropout = 0.1, ActFn = "relu", LowRankDimension = 2 },
            IdentityAtInit: false, Mergeable: false),
        new("gpt2-loreft-all-layers-f2+l1", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new LoreftConfig { Positions = "f2+l1", LowRankDimension = 3 }, IdentityAtInit: false, Mergeable: false),
        new("gpt2-direft-layer1-shared", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new DireftConfig { Layers = [1], Positions = "f1+l1", ShareWeights = true, LowRankDimension = 2 }, IdentityAtInit: false, Mergeable: false),
        new("mlp-ia3-lin0-ff-lin1", g => new TestMlp(g), TestMlp.Input,
            n => new Ia3Config { TargetModules = TargetModules.Of("lin0", "lin1"), FeedforwardModules = TargetModules.Of("lin1"), InitIa3Weights = !n }),
        new("mlp-ia3-regex-modules-to-save", g => new TestMlp(g), TestMlp.Input,
            n => new Ia3Config { TargetModules = "lin0", FeedforwardModules = "lin0", ModulesToSave = ["lin1"], InitIa3Weights = !n }),
        new("gpt2-ia3-default-targets", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new Ia3Config { InitIa3Weights = !n }),
        new("llama-ia3-default-targets", g => TestLlama.Create(g), TestLlama.Input,
            n => new Ia3Config { InitIa3Weights = !n }),
        new("gpt2-ln-tuning-default-targets", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new LnTuningConfig { InitWeights = !n }),
        new("llama-ln-tuning-default-targets", g => TestLlama.Create(g), TestLlama.Input,
            n => new LnTuningConfig { InitWeights = !n }),
        new("mlp-ln-tuning-lin0", g => new TestMlp(g), TestMlp.Input,
            n => new LnTuningConfig { TargetModules = TargetModules.Of("lin0"), InitWeights = !n }),
        new("mlp-bitfit-all-biases", g => new TestMlp(g), TestMlp.Input,
            n => new BitFitConfig { InitWeights = !n }),
        new("gpt2-bitfit-all-biases", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new BitFitConfig { InitWeights = !n }),
        new("gpt2-bitfit-attn-fc-subset", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new BitFitConfig { TargetModules = TargetModules.Of("c_attn", "c_fc"), InitWeights = !n }),
        // bottleneck adapters (series: Houlsby; parallel: He et al.) and their wrap points in each model
        new("mlp-bottleneck-series-lin0", g => new TestMlp(g), TestMlp.Input,
            n => new BottleneckConfig { TargetModules = TargetModules.Of("lin0"), BottleneckSize = 4, InitWeights = BnInit(n, BottleneckInit.MamAdapter) },
            Mergeable: false),
        new("mlp-bottleneck-parallel-lin0", g => new TestMlp(g), TestMlp.Input,
            n => BottleneckConfig.Parallel(bottleneckSize: 3, scaling: 2) with { TargetModules = TargetModules.Of("lin0"), InitWeights = BnInit(n, BottleneckInit.MamAdapter) },
            Mergeable: false),
        new("gpt2-houlsby-resid-dropout-mlp", g => TestGpt2.Create(g), TestGpt2.Input,
            n => BottleneckConfig.Houlsby(bottleneckSize: 4) with { TargetModules = TargetModules.Of("attn.resid_dropout", "mlp"), InitWeights = BnInit(n, BottleneckInit.Houlsby) },
            IdentityAtInit: false, Mergeable: false),
        new("gpt2-parallel-mlp", g => TestGpt2.Create(g), TestGpt2.Input,
            n => BottleneckConfig.Parallel(bottleneckSize: 4) with { TargetModules = TargetModules.Of("mlp"), InitWeights = BnInit(n, BottleneckInit.MamAdapter) },
            Mergeable: false),
        new("llama-houlsby-o_proj-mlp", g => TestLlama.Create(g), TestLlama.Input,
            n => BottleneckConfig.Houlsby(reductionFactor: 4) with { TargetModules = TargetModules.Of("o_proj", "mlp"), InitWeights = BnInit(n, BottleneckInit.MamAdapter) },
            Mergeable: false),
        new("llama-parallel-mlp-layer1", g => TestLlama.Create(g), TestLlama.Input,
            n => BottleneckConfig.Parallel(bottleneckSize: 4) with { TargetModules = TargetModules.Of("mlp"), LayersToTransform = [1], InitWeights = BnInit(n, BottleneckInit.MamAdapter) },
            Mergeable: false),
        new("bert-houlsby-output-dropout", g => TestBert.Create(g), TestBert.Input,
            n => BottleneckConfig.Houlsby(bottleneckSize: 4) with { TargetModules = TargetModules.Of("output.dropout"), InitWeights = BnInit(n, BottleneckInit.Houlsby) },
            IdentityAtInit: false, Mergeable: false),
        // prompt learning: the virtual tokens / prefix change the output from the start (no identity at init)
        new("gpt2-prompt-tuning", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new PromptTuningConfig { NumVirtualTokens = 3, PromptTuningInit = n ? PromptTuningInit.Random : PromptTuningInit.SampleVocab },
            IdentityAtInit: false, MixedBatches: false, PromptLearning: true),
        new("gpt2-prefix-tuning", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new PrefixTuningConfig { NumVirtualTokens = 3 }, IdentityAtInit: false, MixedBatches: false, PromptLearning: true),
        new("gpt2-prefix-tuning-projection", g => TestGpt2.Create(g), TestGpt2.Input,
            n => new PrefixTuningConfig { NumVirtualTokens = 2, PrefixProjection = true, EncoderHiddenSize = 8 },
            IdentityAtInit: false, MixedBatches: false, PromptLearning: true),
        new("llama-prompt-tuning", g => TestLlama.Create(g), TestLlama.Input,
            n => new PromptTuningConfig { NumVirtualTokens = 4, PromptTuningInit = n ? PromptTuningInit.Random : PromptTuningInit.SampleVocab },
            IdentityAtInit: false, MixedBatches: false, PromptLearning: true),
        new("llama-prefix-tuning-gqa", g => TestLlama.Create(g), TestLlama.Input,
            n => new PrefixTuningConfig { NumVirtualTokens = 3 }, IdentityAtInit: false, MixedBatches: false, PromptLearning: true),
        new("llama-prefix-tuning-projection", g => TestLlama.Create(g), TestLlama.Input,
            n => new PrefixTuningConfig { NumVirtualTokens = 3, PrefixProjection = true, EncoderHiddenSize = 12 },
            IdentityAtInit: false, MixedBatches: false, PromptLearning: true),
    ];

    public static TheoryData<string> Names => new(All.Select(c => c.Name));

    public static PeftCase Get(string name) => All.Single(c => c.Name == name);
}
