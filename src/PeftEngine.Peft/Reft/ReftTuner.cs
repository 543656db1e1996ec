using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Reft;

/// <summary>
/// Installs ReFT interventions (LoReFT or DiReFT) on a decoder model: a <see cref="ReftLayer"/> child named
/// <c>reft</c> beside every chosen decoder layer, and one <see cref="LayerOutputHook"/> on the model body
/// (<see cref="ILayerOutputHooks"/>) that hands each layer's output to its ReftLayer. Positions come from
/// <see cref="PeftRuntime.PromptTokens"/>; a forward with cached positions (decoding) is never intervened.
/// </summary>
/// <remarks>
/// File layout (HF PEFT style; pyreft itself writes one file per intervention): <c>adapter_config.json</c> with
/// <c>peft_type</c> "LOREFT" or "DIREFT", and in <c>adapter_model.safetensors</c> per chosen layer l, with the
/// layer list's path (<c>model.layers</c> for LLaMA, <c>transformer.h</c> for GPT-2):
/// <code>
/// base_model.model.model.layers.{l}.reft.rotate_layer.weight      (d, r)  U = Rᵀ, materialized (orthonormal for LoReFT)
/// base_model.model.model.layers.{l}.reft.learned_source.weight    (r, d)  W
/// base_model.model.model.layers.{l}.reft.learned_source.bias      (r)     b
/// </code>
/// With unshared weights and both position groups, <c>reft.first.</c> and <c>reft.last.</c> replace <c>reft.</c>.
/// LoReFT's Householder parameter and base are not written: the materialized U is, as pyreft saves it, and
/// loading reproduces it exactly (see <see cref="OrthogonalRotation"/>).
/// </remarks>
public sealed class ReftTuner(string peftType) : Tuner
{
    /// <summary>The name of the child attached to each decoder layer.</summary>
    public const string ChildName = "reft";

    /// <inheritdoc/>
    public override string PeftType { get; } = peftType;

    /// <summary>The body that accepts layer hooks and the path of its decoder-layer list.</summary>
    internal static (ILayerOutputHooks Host, string LayersPath, ModuleList Layers) FindBody(Module model)
    {
        foreach (var (path, module) in model.NamedModules())
        {
            if (module is not ILayerOutputHooks host) continue;
            foreach (var (name, child) in module.NamedChildren())
                if (child is ModuleList list)
                    return (host, path.Length == 0 ? name : path + "." + name, list);
        }
        throw new NotSupportedException($"ReFT: {model.GetType().Name} has no body with layer-output hooks (supported: LLaMA-family, GPT-2 and BERT models)");
    }

    /// <inheritdoc/>
    public override PeftConfig Prepare(Module model, PeftConfig config, IReadOnlyCollection<PeftConfig> existing, int? vocabSize)
    {
        var rc = config as ReftConfig ?? throw new ArgumentException($"{PeftType}: expected a ReFT config, got {config.GetType().Name}");
        ReftPositions.Parse(rc.Positions);
        if (rc.LowRankDimension <= 0) throw new ArgumentException($"{PeftType}: low_rank_dimension must be positive, got {rc.LowRankDimension}");
        var (_, _, layers) = FindBody(model);
        foreach (int l in rc.Layers ?? [])
            if (l < 0 || l >= layers.Count) throw new ArgumentException($"{PeftType}: layer {l} is outside the model's {layers.Count} layers");
        if (rc.Layers is { Length: 0 }) throw new ArgumentException($"{PeftType}: layers must not be empty (null means every layer)");
        return config;
    }

    /// <inheritdoc/>
    public override void Inject(Module model, string adapter, PeftConfig config, PeftRuntime runtime, Generator? generator)
    {
        var rc = (ReftConfig)Prepare(model, config, [], null);
        var (host, layersPath, layers) = FindBody(model);
        int[] chosen = rc.Layers?.Distinct().Order().ToArray() ?? Enumerable.Range(0, layers.Count).ToArray();
        var created = new List<string>();
        var added = new List<ReftLayer>();
        try
        {
            foreach (int l in chosen)
            {
                string path = $"{layersPath}.{l}.{ChildName}";
                var decoder = model.GetSubmodule($"{layersPath}.{l}");
                var layer = decoder.NamedChildren().FirstOrDefault(c => c.Name == ChildName).Module as ReftLayer;
                if (layer is null)
                {
                    layer = new ReftLayer(decoder, l);
                    layer.Train(decoder.IsTraining);
                    model.AddSubmodule(path, layer);
                    created.Add(path);
                }
                layer.AddAdapter(adapter, rc, EmbedDim(decoder, model), generator);
                added.Add(layer);
            }
        }
        catch
        {
            foreach (var layer in added) layer.DeleteAdapter(adapter);
            foreach (var path in created) model.RemoveSubmodule(path).Dispose();
            throw;
        }
        if (!host.LayerOutputHooks.Any(h => h.Target is ReftHook))
            host.LayerOutputHooks.Add(new ReftHook(layers, runtime).Invoke);
    }

    /// <summary>The hidden size d of the model.</summary>
    private static int EmbedDim(Module decoder, Module model)
    {
        if (model is LlamaModel llama) return llama.Config.HiddenSize;
        if (model is Gpt2Model gpt2) return gpt2.Config.HiddenSize;
        // any other body (BERT): the width of its first norm's weight
        var norm = decoder.NamedParameters().FirstOrDefault(np => np.Name.EndsWith("norm.weight", StringComparison.OrdinalIgnoreCase) || np.Name.StartsWith("ln_", StringComparison.Ordinal));
        return norm.Parameter?.Data.Shape[0] ?? throw new NotSupportedException($"ReFT: cannot find the hidden size of {model.GetType().Name}");
    }

    /// <inheritdoc/>
    public override void Delete(Module model, string adapter)
    {
        foreach (var (_, layer) in Layers(model)) layer.DeleteAdapter(adapter);
    }

    private static IEnumerable<(string Path, ReftLayer Layer)> Layers(Module model) =>
        model.NamedModules().Where(nm => nm.Module is ReftLayer).Select(nm => (nm.Name, (ReftLayer)nm.Module)).ToList();

    /// <inheritdoc/>
    public override Dictionary<string, Tensor> SaveStateDict(Module model, string adapter, PeftConfig config)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var _ = GradMode.Disable();
        foreach (var (path, layer) in Layers(model))
        {
            if (!layer.AdapterNames.Contains(adapter)) continue;
            foreach (var (group, intervention) in Groups(layer, adapter))
            {
                string key = PeftModel.Prefix + path + "." + group;
                using (var u = intervention.RotateLayer.Weight()) result[key + "rotate_layer.weight"] = u.Detach();
                result[key + "learned_source.weight"] = intervention.LearnedSource.Weight.Data.Detach();
                result[key + "learned_source.bias"] = intervention.LearnedSource.Bias!.Data.Detach();
            }
        }
        return result;
    }

    /// <inheritdoc/>
    public override Dictionary<string, Tensor> LoadTargets(Module model, string adapter, PeftConfig config)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (path, layer) in Layers(model))
        {
            if (!layer.AdapterNames.Contains(adapter)) continue;
            foreach (var (group, intervention) in Groups(layer, adapter))
            {
                string key = PeftModel.Prefix + path + "." + group;
                result[key + "rotate_layer.weight"] = intervention.RotateLayer switch
                {
                    OrthogonalRotation o => o.LoadTarget(),
                    LowRankRotation p => p.WeightParameter.Data.Detach(),
                    var other => throw new InvalidOperationException($"ReFT: unknown rotate layer {other.GetType().Name}"),
                };
                result[key + "learned_source.weight"] = intervention.LearnedSource.Weight.Data.Detach();
                result[key + "learned_source.bias"] = intervention.LearnedSource.Bias!.Data.Detach();
            }
        }
        return result;
    }

    /// <summary>("" or "first."/"last.", intervention) of an adapter in a layer (keys continue after <c>….reft.</c>).</summary>
    private static IEnumerable<(string Group, ReftIntervention Intervention)> Groups(ReftLayer layer, string adapter)
    {
        var (first, last) = layer.Interventions(adapter);
        if (ReferenceEquals(first, last)) return [("", first)];
        return [("first.", first), ("last.", last)];
    }

    /// <summary>The hook on the model body: finds the layer's <see cref="ReftLayer"/> and applies it to the prompt.</summary>
    private sealed class ReftHook(ModuleList layers, PeftRuntime runtime)
    {
        public Tensor? Invoke(int layer, Tensor hidden, int pastLength)
        {
            if (pastLength > 0 || layer >= layers.Count) return null;   // generated tokens are not intervened (pyreft)
            var reft = layers[layer].NamedChildren().FirstOrDefault(c => c.Name == ChildName).Module as ReftLayer;
            return reft?.Apply(hidden, runtime);
        }
    }
}
