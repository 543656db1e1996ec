using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>One pre-norm GPT-2 block: x + attn(ln_1(x)), then h + mlp(ln_2(h)).</summary>
/// <remarks>HF: transformers.models.gpt2.modeling_gpt2.GPT2Block (children ln_1, attn, ln_2, mlp).</remarks>
public sealed class Gpt2Block : Module
{
    /// <summary>Creates block <paramref name="layerIndex"/> of a model with <paramref name="config"/>.</summary>
    public Gpt2Block(Gpt2Config config, int layerIndex, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        RegisterModule("ln_1", new LayerNorm(config.HiddenSize, config.LayerNormEpsilon, dtype: dtype));
        RegisterModule("attn", new Gpt2Attention(config, layerIndex, dtype, generator));
        RegisterModule("ln_2", new LayerNorm(config.HiddenSize, config.LayerNormEpsilon, dtype: dtype));
        RegisterModule("mlp", new Gpt2Mlp(config, dtype, generator));
    }

    /// <summary>(B, T, C) -> (B, T, C).</summary>
    public override Tensor Forward(Tensor x) => Forward(x, null, null);

    /// <summary>(B, T, C) -> (B, T, C), with an optional additive attention mask, key/value cache or prefix (see
    /// <see cref="Gpt2Attention"/>).</summary>
    public Tensor Forward(Tensor x, Tensor? additiveMask, KvCache? cache = null, (Tensor Keys, Tensor Values)? prefix = null)
    {
        using var n1 = GetChild("ln_1").Forward(x);
        using var a = GetChild("attn") is Gpt2Attention attn ? attn.Forward(n1, additiveMask, cache, prefix)
            : prefix is null ? GetChild("attn").Forward(n1)
            : throw new NotSupportedException($"Gpt2Block: the attention child is a {GetChild("attn").GetType().Name}, which takes no attention prefix");
        using var h = Ops.Add(x, a);
        using var n2 = GetChild("ln_2").Forward(h);
        using var m = GetChild("mlp").Forward(n2);
        return Ops.Add(h, m);
    }
}
