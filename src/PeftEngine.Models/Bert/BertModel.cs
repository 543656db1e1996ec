using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// The BERT encoder: <see cref="BertEmbeddings"/> (<c>embeddings</c>), the stack of layers (<c>encoder.layer.N</c>)
/// and optionally the tanh <see cref="BertPooler"/> (<c>pooler</c>). Module and parameter names are HF's
/// (<c>encoder.layer.0.attention.self.query.weight</c>), so PEFT targets such as <c>query</c> / <c>value</c> and
/// checkpoint keys carry over unchanged.
/// </summary>
/// <remarks>HF: transformers.BertModel(config, add_pooling_layer). Initialisation as HF's _init_weights: Linear
/// and Embedding weights N(0, 0.02²), biases zero, LayerNorm weight one and bias zero.</remarks>
public sealed partial class BertModel : Module
{
    /// <summary>Standard deviation of the initial weights (HF initializer_range default).</summary>
    public const double InitializerRange = 0.02;

    /// <summary>Creates a randomly initialised encoder in training mode.</summary>
    /// <remarks>PyTorch/HF: BertModel(config, add_pooling_layer=addPoolingLayer).</remarks>
    public BertModel(BertConfig config, bool addPoolingLayer = true, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        RegisterModule("embeddings", new BertEmbeddings(config, dtype, generator));
        RegisterModule("encoder", new BertEncoder(config, dtype, generator));
        if (addPoolingLayer) RegisterModule("pooler", new BertPooler(config, dtype, generator));
        HasPooler = addPoolingLayer;
    }

    /// <summary>The configuration the model was built from.</summary>
    public BertConfig Config { get; }

    /// <summary>Whether the model has the tanh pooler.</summary>
    public bool HasPooler { get; }

    /// <summary>The input embeddings.</summary>
    public BertEmbeddings Embeddings => GetSubmodule<BertEmbeddings>("embeddings");

    /// <summary>The layer stack.</summary>
    public BertEncoder Encoder => GetSubmodule<BertEncoder>("encoder");

    /// <summary>ids (B, T) I64 -> last hidden state (B, T, C), no padding, token type 0.</summary>
    public override Tensor Forward(Tensor ids)
    {
        using var outputs = Forward(ids, null, null, computePooled: false);
        return outputs.TakeLastHiddenState();
    }

    /// <summary>
    /// Runs the encoder. <paramref name="ids"/> (B, T) I64; <paramref name="attentionMask"/> (B, T) of 1 (token) and
    /// 0 (padding) as U8, I32 or I64 (null: all tokens); <paramref name="tokenTypeIds"/> (B, T) I64 (null: zeros).
    /// Returns the last hidden state (B, T, C) and, when the model has a pooler and <paramref name="computePooled"/>
    /// is true, the pooled output (B, C).
    /// </summary>
    /// <remarks>HF: BertModel(input_ids, attention_mask, token_type_ids) -> (last_hidden_state, pooler_output).
    /// HF adds the dtype's minimum for padded keys, this adds -infinity: the same probabilities for every row that
    /// has at least one real token. Hidden states at padded positions are computed but meaningless, as in HF.</remarks>
    public BertOutputs Forward(Tensor ids, Tensor? attentionMask, Tensor? tokenTypeIds = null, bool computePooled = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (attentionMask is not null && attentionMask.Shape != ids.Shape)
            throw new ArgumentException($"BertModel: attention mask must have the ids' shape {ids.Shape}, got {attentionMask.Shape}");
        using var embedded = Embeddings.Forward(ids, tokenTypeIds);                     // (B, T) -> (B, T, C)
        using var mask = attentionMask is null ? null : Ops.PaddingMask(attentionMask, embedded.DType);   // (B, T) -> (B, 1, 1, T)
        var hidden = Encoder.Forward(embedded, mask);
        try
        {
            Tensor? pooled = HasPooler && computePooled ? GetChild("pooler").Forward(hidden) : null;
            return new BertOutputs(hidden, pooled);
        }
        catch
        {
            hidden.Dispose();
            throw;
        }
    }

    /// <summary>A Linear layer initialised as HF BERT does (weight N(0, 0.02²), bias zero).</summary>
    internal static Linear NewLinear(int inFeatures, int outFeatures, DType dtype, Generator? generator)
    {
        var linear = new Linear(inFeatures, outFeatures, bias: true, dtype, generator);
        using (GradMode.Disable())
        {
            Init.Normal(linear.Weight, 0, InitializerRange, generator);
            Ops.FillInPlace(linear.Bias!, 0);
        }
        return linear;
    }
}
