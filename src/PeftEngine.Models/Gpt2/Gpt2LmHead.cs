using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// GPT-2's output projection tied to the token embedding: logits = h · wteᵀ. It owns no parameter (the weight is
/// the embedding's), so the state dict has no <c>lm_head.weight</c>, like HF's saved checkpoints.
/// </summary>
/// <remarks>HF: GPT2LMHeadModel.lm_head, an nn.Linear(n_embd, vocab, bias=False) whose weight is tied to
/// transformer.wte.weight.</remarks>
public sealed class Gpt2LmHead(Embedding tiedTo) : Module
{
    /// <summary>The embedding whose table is the projection.</summary>
    public Embedding TiedTo { get; } = tiedTo ?? throw new ArgumentNullException(nameof(tiedTo));

    /// <summary>Hidden states (…, C) -> logits (…, V).</summary>
    public override Tensor Forward(Tensor x) => Ops.Linear(x, TiedTo.Weight);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"in_features={TiedTo.EmbeddingDim}, out_features={TiedTo.NumEmbeddings}, tied=wte";
}
