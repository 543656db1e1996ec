using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// GPT-2's body without the output head: token embedding plus learned position embedding, dropout, the stack of
/// blocks, and the final LayerNorm. Maps ids (B, T) to hidden states (B, T, C).
/// </summary>
/// <remarks>HF: transformers.models.gpt2.modeling_gpt2.GPT2Model (children wte, wpe, drop, h, ln_f); it is the
/// <c>transformer</c> child of GPT2LMHeadModel.</remarks>
public sealed class Gpt2Transformer : Module
{
    /// <summary>Creates the body with GPT-2's initialisation (embeddings and weights N(0, 0.02²), each residual
    /// output projection N(0, (0.02 / √(2·n_layer))²)).</summary>
    public Gpt2Transformer(Gpt2Config config, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        var wte = RegisterModule("wte", new Embedding(config.VocabSize, config.HiddenSize, dtype: dtype, generator: generator));
        var wpe = RegisterModule("wpe", new Embedding(config.MaxPositionEmbeddings, config.HiddenSize, dtype: dtype, generator: generator));
        RegisterModule("drop", new Dropout(config.EmbdPdrop, generator));
        var blocks = RegisterModule("h", new ModuleList());
        for (int i = 0; i < config.NumHiddenLayers; i++) blocks.Add(new Gpt2Block(config, i, dtype, generator));
        RegisterModule("ln_f", new LayerNorm(config.HiddenSize, config.LayerNormEpsilon, dtype: dtype));

        using (GradMode.Disable())
        {
            Init.Normal(wte.Weight, 0, 0.02, generator);
            Init.Normal(wpe.Weight, 0, 0.02, generator);
            double projStd = 0.02 / Math.Sqrt(2.0 * Math.Max(1, config.NumHiddenLayers));
            foreach (var block in blocks)
            {
                Init.Normal(block.GetSubmodule<Conv1D>("attn.c_proj").Weight, 0, projStd, generator);
                Init.Normal(block.GetSubmodule<Conv1D>("mlp.c_proj").Weight, 0, projStd, generator);
            }
        }
    }

    /// <summary>The configuration the body was built from.</summary>
    public Gpt2Config Config { get; }

    /// <summary>The token embedding (V, C), also used as the output projection when embeddings are tied.</summary>
    public Embedding Wte => GetSubmodule<Embedding>("wte");

    /// <summary>ids (B, T) I64 -> hidden states (B, T, C).</summary>
    public override Tensor Forward(Tensor ids) => Forward(ids, null);

    /// <summary>ids (B, T) I64 -> hidden states (B, T, C). <paramref name="attentionMask"/> (B, T) of 1 (token) and 0
    /// (padding) keeps queries from attending to padded keys; positions are always 0 .. T-1.</summary>
    /// <remarks>HF: GPT2Model.forward(input_ids, attention_mask). A query whose every visible key is padding (the
    /// first tokens of a left-padded row) gets NaN here, where HF's finite mask minimum gives a meaningless
    /// average; such positions should be ignored by the loss either way.</remarks>
    public Tensor Forward(Tensor ids, Tensor? attentionMask)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Rank != 2 || ids.DType != DType.I64)
            throw new ArgumentException($"Gpt2Transformer: ids must be (B, T) i64, got {ids.DType.Name()} {ids.Shape}");
        int t = ids.Shape[1];
        if (t == 0 || t > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"Gpt2Transformer: sequence length {t} must be in [1, n_positions = {Config.MaxPositionEmbeddings}]");
        if (attentionMask is not null && attentionMask.Shape != ids.Shape)
            throw new ArgumentException($"Gpt2Transformer: attention mask must have the ids' shape {ids.Shape}, got {attentionMask.Shape}");

        var wte = Wte;
        using var tokens = wte.Forward(ids);                                   // (B, T) -> (B, T, C)
        using var positions = Ops.Arange(0, t, dtype: DType.I64, device: ids.Device);   // (T)
        using var pos = GetChild("wpe").Forward(positions);                    // (T) -> (T, C), broadcast over B
        using var summed = Ops.Add(tokens, pos);
        using var mask = attentionMask is null ? null : Ops.PaddingMask(attentionMask, wte.Weight.DType);   // (B, T) -> (B, 1, 1, T)
        Tensor h = GetChild("drop").Forward(summed);
        foreach (var module in (ModuleList)GetChild("h"))
        {
            var next = module is Gpt2Block block ? block.Forward(h, mask) : module.Forward(h);
            h.Dispose();
            h = next;
        }
        using (h) return GetChild("ln_f").Forward(h);
    }
}
