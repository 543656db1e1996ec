// Bottleneck adapters as a ModuleTuner: the models know nothing about adapters; the tuner wraps the child modules
// that the models call through plain Forward, at the points where the papers insert the adapter.
//
// Series (Houlsby et al. 2019, arXiv:1902.00751): "the adapter is applied directly to the output of the sub-layer,
// after it has been projected back to the input size, but before adding the skip connection back"; in the authors'
// code after the sub-layer's output dropout. Wrap points that give exactly that placement:
//   LLaMA   model.layers.N.self_attn.o_proj (no dropout follows it) and model.layers.N.mlp (GatedMlp, its output
//           goes straight into the residual add);
//   GPT-2   transformer.h.N.attn.resid_dropout (after c_proj, before the residual add in Gpt2Block) and
//           transformer.h.N.mlp (c_fc → act → c_proj → dropout);
//   BERT    encoder.layer.N.attention.output.dropout and encoder.layer.N.output.dropout (after the dense projection,
//           before the residual add + LayerNorm inside BertResidualOutput).
// The attention modules themselves (LlamaAttention, Gpt2Attention, BertSelfAttention) are called with masks and
// rotary tables, not through plain Forward, so they are never wrapped. Wrapping the projection before a dropout
// (attn.c_proj, output.dense) also works and differs only while dropout is active.
//
// Parallel (He et al. 2022, arXiv:2110.04366): out = sublayer(x) + s·adapter(x), x the sub-layer's input. The FFN
// placement, the paper's best, is exact for LLaMA and GPT-2 by wrapping `mlp`. BERT's FFN is split over
// `intermediate` and `output` (which takes the residual as a second argument), and every attention module takes extra
// arguments, so parallel adapters on BERT or beside attention have no single-module wrap point here.
//
// Widths: a Linear / Conv1D / 4-bit Linear gives its in/out features; an MLP its first projection's input and last
// projection's output; a Dropout (series only) the output width of the last projection registered before it in the
// same parent module (GPT-2 attn.c_proj, BERT dense).

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;
using PeftEngine.Quant;

namespace PeftEngine.Peft.Adapters;

/// <summary>
/// Series (Houlsby) and parallel (He et al.) bottleneck adapters around chosen sub-layer modules; see
/// <see cref="BottleneckLayer"/> for the math and the file header for the wrap points. Merging is refused
/// (non-linear); save/load use HF PEFT's layout with keys <c>base_model.model.&lt;path&gt;.adapter_down.weight</c>,
/// <c>.adapter_down.bias</c>, <c>.adapter_up.weight</c>, <c>.adapter_up.bias</c> and <c>peft_type</c> "BOTTLENECK".
/// </summary>
/// <remarks>HF PEFT has none; AdapterHub <c>DoubleSeqBnConfig</c> ("houlsby") and <c>ParBnConfig</c> ("par_bn",
/// scaled), LLM-Adapters' <c>BottleneckModel</c>.</remarks>
public sealed class BottleneckTuner : ModuleTuner
{
    private Module? _model;

    /// <summary>Default targets per HF model_type when the config names none (the papers' placements).</summary>
    public static IReadOnlyDictionary<string, string[]> SeriesDefaults { get; } = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["gpt2"] = ["attn.resid_dropout", "mlp"],
        ["llama"] = ["o_proj", "mlp"],
        ["mistral"] = ["o_proj", "mlp"],
        ["qwen2"] = ["o_proj", "mlp"],
        ["bert"] = ["output.dropout"],
    };

    /// <summary>Default parallel-adapter targets (beside the FFN).</summary>
    public static IReadOnlyDictionary<string, string[]> ParallelDefaults { get; } = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["gpt2"] = ["mlp"],
        ["llama"] = ["mlp"],
        ["mistral"] = ["mlp"],
        ["qwen2"] = ["mlp"],
    };

    /// <inheritdoc/>
    public override string PeftType => BottleneckConfig.Type;

    /// <inheritdoc/>
    protected override bool CanAdapt(Module module) =>
        module is Linear or Conv1D or Linear4Bit or Dropout || Projections(module).Count > 0;

    /// <inheritdoc/>
    protected override bool OwnsLayer(ITunerLayer layer) => layer is BottleneckLayer;

    /// <inheritdoc/>
    public override PeftConfig Prepare(Module model, PeftConfig config, IReadOnlyCollection<PeftConfig> existing, int? vocabSize)
    {
        var c = config as BottleneckConfig ?? throw new ArgumentException($"BOTTLENECK: expected a BottleneckConfig, got {config.GetType().Name}");
        if (c.TrainLayerNorms && existing.OfType<BottleneckConfig>().Any(e => e.TrainLayerNorms))
            throw new ArgumentException("BOTTLENECK: only one adapter may train the layer norms (they are shared base parameters); set TrainLayerNorms = false for the others");
        if (c.TargetModules is not null) return c;
        string? type = DefaultTargetModules.ModelType(model) ?? (model is Models.BertModel or Models.BertForSequenceClassification ? "bert" : null);
        var table = c.UseParallelAdapter ? ParallelDefaults : SeriesDefaults;
        if (type is null || !table.TryGetValue(type, out var defaults))
            throw new ArgumentException($"BOTTLENECK: target_modules is not set and there is no default {(c.UseParallelAdapter ? "parallel" : "series")} placement for {type ?? model.GetType().Name}; please specify `target_modules`");
        return c with { TargetModules = TargetModules.Of(defaults) };
    }

    /// <summary>With <see cref="BottleneckConfig.TrainLayerNorms"/>: every LayerNorm / RMSNorm parameter of the model.</summary>
    public override IEnumerable<Parameter> ExtraTrainable(Module model, PeftConfig config) =>
        ((BottleneckConfig)config).TrainLayerNorms ? LayerNormParameters(model).Select(np => np.Parameter).ToList() : [];

    /// <summary>The adapter's tensors plus, with <see cref="BottleneckConfig.TrainLayerNorms"/>, the layer norms under
    /// their base names (<c>base_model.model.model.layers.0.input_layernorm.weight</c>).</summary>
    public override Dictionary<string, Tensor> SaveStateDict(Module model, string adapter, PeftConfig config)
    {
        var result = base.SaveStateDict(model, adapter, config);
        if (((BottleneckConfig)config).TrainLayerNorms)
            foreach (var (name, p) in LayerNormParameters(model))
                result[PeftModel.Prefix + name] = p.Data.Detach();
        return result;
    }

    private static List<(string Name, Parameter Parameter)> LayerNormParameters(Module model) =>
        model.NamedModules().Where(nm => nm.Module is LayerNorm or RmsNorm)
            .SelectMany(nm => nm.Module.NamedParameters().Select(np => (Name: nm.Name.Length == 0 ? np.Name : nm.Name + "." + np.Name, np.Parameter)))
            .Where(np => !np.Name.Contains(".modules_to_save.", StringComparison.Ordinal) && !np.Name.Contains(".original_module.", StringComparison.Ordinal)).ToList();

    /// <inheritdoc/>
    public override void Inject(Module model, string adapter, PeftConfig config, PeftRuntime runtime, Generator? generator)
    {
        var c = config as BottleneckConfig ?? throw new ArgumentException($"BOTTLENECK: expected a BottleneckConfig, got {config.GetType().Name}");
        c.Validate();
        _model = model;
        try { base.Inject(model, adapter, config, runtime, generator); }
        finally { _model = null; }
    }

    /// <inheritdoc/>
    protected override ITunerLayer CreateLayer(Module target, string path, string adapter, TunerConfig config, PeftRuntime runtime, Generator? generator)
    {
        var (inWidth, outWidth) = Widths(target, path);
        var layer = new BottleneckLayer(target, inWidth, outWidth, runtime);
        return WithFirstAdapter(layer, l => l.AddAdapter(adapter, (BottleneckConfig)config, path, generator));
    }

    /// <inheritdoc/>
    protected override void AddToLayer(ITunerLayer layer, string path, string adapter, TunerConfig config, Generator? generator) =>
        ((BottleneckLayer)layer).AddAdapter(adapter, (BottleneckConfig)config, path, generator);

    /// <summary>Refuses to delete an adapter that a fusion still mixes (before anything is removed).</summary>
    public override void Delete(Module model, string adapter)
    {
        foreach (var (path, layer) in Layers(model))
            if (layer is BottleneckLayer b && b.AdapterNames.Contains(adapter) && b.FusionUsing(adapter) is { } f)
                throw new InvalidOperationException($"Cannot delete adapter {adapter}: the fusion \"{f}\" mixes it at '{path}'; delete the fusion first");
        base.Delete(model, adapter);
    }

    /// <summary>(input width or null, output width) of a module the tuner wraps.</summary>
    private (int? In, int Out) Widths(Module target, string path)
    {
        switch (target)
        {
            case Linear l: return (l.InFeatures, l.OutFeatures);
            case Conv1D c: return (c.InFeatures, c.OutFeatures);
            case Linear4Bit q: return (q.InFeatures, q.OutFeatures);
            case Dropout:
                return (null, PrecedingProjectionWidth(path)
                    ?? throw new NotSupportedException($"BOTTLENECK: cannot tell the width of dropout '{path}': no projection is registered before it in its parent module"));
        }
        var projections = Projections(target);
        if (projections.Count == 0)
            throw new NotSupportedException($"BOTTLENECK: target module '{path}' is a {target.GetType().Name} with no Linear/Conv1D inside, so its width is unknown");
        return (Widths(projections[0], path).In, Widths(projections[^1], path).Out);
    }

    private int? PrecedingProjectionWidth(string path)
    {
        int dot = path.LastIndexOf('.');
        if (_model is null || dot < 0) return null;
        var parent = _model.GetSubmodule(path[..dot]);
        string name = path[(dot + 1)..];
        int? width = null;
        foreach (var (childName, child) in parent.NamedChildren())
        {
            if (childName == name) return width;
            var p = Projections(child);
            if (p.Count > 0) width = Widths(p[^1], path).Out;
        }
        return null;
    }

    /// <summary>The Linear / Conv1D / 4-bit layers inside <paramref name="module"/> (itself included) in registration
    /// order, looking through other methods' tuner layers to their base modules.</summary>
    private static List<Module> Projections(Module module)
    {
        var result = new List<Module>();
        void Walk(Module m)
        {
            if (m is Linear or Conv1D or Linear4Bit) { result.Add(m); return; }
            if (m is ITunerLayer t) { Walk(t.BaseLayer); return; }
            foreach (var (_, child) in m.NamedChildren()) Walk(child);
        }
        Walk(module);
        return result;
    }
}
