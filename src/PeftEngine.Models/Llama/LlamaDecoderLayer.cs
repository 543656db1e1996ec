using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>One pre-norm LLaMA decoder layer: h = x + self_attn(input_layernorm(x)), then
/// h + mlp(post_attention_layernorm(h)) with the gated SwiGLU MLP.</summary>
/// <remarks>HF: LlamaDecoderLayer (children self_attn, mlp, input_layernorm, post_attention_layernorm), also
/// MistralDecoderLayer and Qwen2DecoderLayer.</remarks>
public sealed class LlamaDecoderLayer : Module
{
    /// <summary>Creates layer <paramref name="layerIndex"/> of a model with <paramref name="config"/>.</summary>
    public LlamaDecoderLayer(RopeDecoderConfig config, int layerIndex, DType dtype = DType.F32, Generator? generator = null)
        : this(config, layerIndex, dtype, generator, null, "") { }

    /// <summary>Creates the layer with its projections from <paramref name="linears"/> (paths under <paramref name="path"/>).</summary>
    internal LlamaDecoderLayer(RopeDecoderConfig config, int layerIndex, DType dtype, Generator? generator,
        LlamaLinearFactory? linears, string path)
    {
        ArgumentNullException.ThrowIfNull(config);
        LayerIndex = layerIndex;
        SlidingWindow = SlidingWindowOf(config, layerIndex);
        RegisterModule("self_attn", new LlamaAttention(config, dtype, generator, linears, path + "self_attn."));
        var act = Activation.Parse(config.HiddenAct);
        int c = config.HiddenSize, f = config.IntermediateSize;
        RegisterModule("mlp", linears is null
            ? new GatedMlp(c, f, act, config.MlpBias, dtype, generator)
            : new GatedMlp(LlamaLinears.Create(linears, path + "mlp.gate_proj", c, f, config.MlpBias, dtype, generator),
                LlamaLinears.Create(linears, path + "mlp.up_proj", c, f, config.MlpBias, dtype, generator),
                LlamaLinears.Create(linears, path + "mlp.down_proj", f, c, config.MlpBias, dtype, generator), act));
        RegisterModule("input_layernorm", new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype));
        RegisterModule("post_attention_layernorm", new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype));
    }

    /// <summary>The layer's index in the stack.</summary>
    public int LayerIndex { get; }

    /// <summary>The attention window of this layer (Mistral's sliding_window; Qwen2's from max_window_layers on),
    /// or null for full causal attention.</summary>
    public int? SlidingWindow { get; }

    /// <summary>The attention child.</summary>
    public LlamaAttention SelfAttention => GetSubmodule<LlamaAttention>("self_attn");

    /// <summary>(B, T, C) -> (B, T, C); see <see cref="LlamaAttention.Forward(Tensor, Tensor?, LlamaRotaryEmbedding, KvCache?, Tensor?, ValueTuple{Tensor, Tensor}?)"/>.</summary>
    public Tensor Forward(Tensor x, Tensor? mask, LlamaRotaryEmbedding rotary, KvCache? cache, Tensor? positionIds = null,
        (Tensor Keys, Tensor Values)? prefix = null)
    {
        using var n1 = GetChild("input_layernorm").Forward(x);
        using var a = GetChild("self_attn") is LlamaAttention attn
            ? attn.Forward(n1, mask, rotary, cache, positionIds, prefix)
            : prefix is null ? GetChild("self_attn").Forward(n1)
            : throw new NotSupportedException($"LlamaDecoderLayer: the attention child is a {GetChild("self_attn").GetType().Name}, which takes no attention prefix");
        using var h = Ops.Add(x, a);
        using var n2 = GetChild("post_attention_layernorm").Forward(h);
        using var m = GetChild("mlp").Forward(n2);
        return Ops.Add(h, m);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) =>
        throw new InvalidOperationException("LlamaDecoderLayer needs the model's rotary tables: call Forward(x, mask, rotary, cache)");

    /// <summary>The sliding window a config gives layer <paramref name="layerIndex"/>, or null.</summary>
    /// <remarks>HF: MistralConfig.sliding_window for every layer; Qwen2Config.layer_types ("sliding_attention"
    /// when use_sliding_window and layer ≥ max_window_layers).</remarks>
    public static int? SlidingWindowOf(RopeDecoderConfig config, int layerIndex) => config switch
    {
        MistralConfig m => m.SlidingWindow,
        Qwen2Config q when q.UseSlidingWindow && layerIndex >= q.MaxWindowLayers => q.SlidingWindow,
        _ => null,
    };
}
