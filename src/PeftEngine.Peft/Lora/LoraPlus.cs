// LoRA+ (Hayou, Ghosh, Yu, "LoRA+: Efficient Low Rank Adaptation of Large Models", ICML 2024, arXiv:2402.12354):
// the model is plain LoRA; only the optimizer changes, training B with a larger learning rate than A:
//
//     η_B = λ · η_A,   λ = loraplus_lr_ratio (the paper suggests about 16)

using PeftEngine.Nn;
using PeftEngine.Nn.Optim;

namespace PeftEngine.Peft.Lora;

/// <summary>The optimizer parameter groups of LoRA+ (injection point 9: a method that changes the optimizer).</summary>
/// <remarks>HF: peft.optimizers.create_loraplus_optimizer. Groups as HF builds them: group A (every trainable
/// parameter that is not lora_B and not 1-D: lr, weight decay), group B (lora_B and 1-D parameters that decay:
/// lr·ratio), group B without decay (biases and norm weights: lr·ratio, no decay) and the LoRA embedding factors
/// (loraplus_lr_embedding). HF's embedding test looks at the parameter's own type and so never fires; here the
/// factors of LoRA embedding layers are that group, as HF intends.</remarks>
public static class LoraPlus
{
    /// <summary>Builds the parameter groups; pass them to an optimizer (e.g. <c>new AdamW(groups, lr)</c>).</summary>
    public static List<ParamGroup> ParamGroups(PeftModel model, double lr, double loraPlusLrRatio, double loraPlusLrEmbedding = 1e-6, double weightDecay = 0.0)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!(loraPlusLrRatio > 0)) throw new ArgumentOutOfRangeException(nameof(loraPlusLrRatio), $"LoRA+: loraplus_lr_ratio must be positive, got {loraPlusLrRatio}");
        var noDecayModules = model.NamedModules().Where(nm => nm.Module is LayerNorm or RmsNorm).Select(nm => nm.Name + ".").ToList();
        List<Parameter> a = new(), b = new(), bNoDecay = new(), embedding = new();
        foreach (var (name, p) in model.NamedParameters())
        {
            if (!p.RequiresGrad) continue;
            bool decays = !name.Contains("bias") && !noDecayModules.Any(m => name.StartsWith(m, StringComparison.Ordinal));
            if (name.Contains(".lora_embedding_")) embedding.Add(p);
            else if (name.Contains(".lora_B.") || p.Shape.Rank == 1) (decays ? b : bNoDecay).Add(p);
            else a.Add(p);
        }
        var groups = new List<ParamGroup>();
        if (a.Count > 0) groups.Add(new ParamGroup(a, lr, weightDecay));
        if (b.Count > 0) groups.Add(new ParamGroup(b, lr * loraPlusLrRatio, weightDecay));
        if (bNoDecay.Count > 0) groups.Add(new ParamGroup(bNoDecay, lr * loraPlusLrRatio, 0.0));
        if (embedding.Count > 0) groups.Add(new ParamGroup(embedding, loraPlusLrEmbedding, weightDecay));
        return groups;
    }
}
