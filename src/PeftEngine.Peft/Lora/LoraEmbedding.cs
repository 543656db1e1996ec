// LoRA on an embedding table (Hu et al., ICLR 2022), HF's layout: A (r, num), B (dim, r), and for ids x
//
//     y = E[x] + s · (Aᵀ[x] · Bᵀ),   ΔE = s · (B·A)ᵀ  (num, dim)
//
// Initialisation is reversed with respect to Linear: A = 0 and B ~ N(0, 1), so the adapter starts as a no-op.
// HF applies no dropout on this branch (ids cannot be dropped).
//
// DoRA (HF's DoraEmbeddingLayer, which treats the table as fan_in_fan_out): one magnitude per embedding dimension,
// m ∈ R^dim, against the norm of each column of E + ΔE over the whole vocabulary; the output is
// y = λ ⊙ (E[x] + s·Aᵀ[x]·Bᵀ) with λ = m / stopgrad(‖(E + ΔE)[:, j]‖), i.e. the lookup of the merged table.

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Peft.Lora;

/// <summary>LoRA around an <see cref="Embedding"/>; the factors are the parameters <c>lora_embedding_A/B</c>;
/// supports DoRA.</summary>
/// <remarks>HF: peft.tuners.lora.layer.Embedding (ParameterDicts lora_embedding_A / lora_embedding_B; in the file
/// <c>…embed_tokens.lora_embedding_A</c> without <c>.weight</c>).</remarks>
public sealed class LoraEmbedding : LoraLayer
{
    /// <summary>Wraps <paramref name="baseLayer"/>.</summary>
    public LoraEmbedding(Embedding baseLayer, PeftRuntime runtime) : base(baseLayer, runtime) { }

    private Embedding Table => (Embedding)BaseLayer;

    /// <inheritdoc/>
    protected override Parameter BaseWeight => Table.Weight;

    /// <inheritdoc/>
    protected override Parameter? BaseBias => null;

    internal override int OutputDim => 1;

    /// <inheritdoc/>
    protected override bool SupportsDora => true;

    internal override Tensor BaseWeightOutIn()
    {
        using var _ = GradMode.Disable();
        using var w = ReadBaseWeight();                 // (num, dim) f32
        using var t = Ops.Transpose(w, 0, 1);           // -> (dim, num)
        return Ops.Contiguous(t);
    }

    internal override (Parameter A, Parameter B) Factors(string adapter) => (EmbeddingA[adapter], EmbeddingB[adapter]);

    /// <inheritdoc/>
    protected override void CreateFactors(string adapter, int r, LoraConfig config, Generator? generator)
    {
        if (config.LoraBias) throw new NotSupportedException("LoraEmbedding: lora_bias is not supported for embeddings");
        var a = Tensor.Empty(new Shape(r, Table.NumEmbeddings), DType.F32);
        var b = Tensor.Empty(new Shape(Table.EmbeddingDim, r), DType.F32);
        if (config.InitLoraWeights == LoraInit.Random) Init.Normal(a, 0, 1, generator);
        else Ops.FillInPlace(a, 0);
        Init.Normal(b, 0, 1, generator);
        EmbeddingA.Add(adapter, new Parameter(a));
        EmbeddingB.Add(adapter, new Parameter(b));
    }

    /// <inheritdoc/>
    public override Tensor DeltaWeight(string adapter)
    {
        using var _ = GradMode.Disable();
        using var ba = Ops.MatMul(EmbeddingB[adapter], EmbeddingA[adapter]);   // (dim, r) · (r, num) -> (dim, num)
        using var t = Ops.Transpose(ba, 0, 1);                                  // -> (num, dim)
        using var c = Ops.Contiguous(t);
        return Ops.Mul(c, Scaling[adapter]);
    }

    /// <inheritdoc/>
    protected override Tensor LoraOutput(Tensor ids, string adapter)
    {
        using var at = Ops.Transpose(EmbeddingA[adapter], 0, 1);   // (r, num) -> (num, r)
        using var table = Ops.Contiguous(at);
        using var afterA = Ops.Embedding(table, ids);               // (...) -> (..., r)
        using var bt = Ops.Transpose(EmbeddingB[adapter], 0, 1);   // (dim, r) -> (r, dim)
        using var o = Ops.MatMul(afterA, bt);                       // (..., r) -> (..., dim)
        return Ops.Mul(o, Scaling[adapter]);
    }

    /// <inheritdoc/>
    protected override Tensor AddAdapterOutput(Tensor ids, Tensor result, string adapter)
    {
        if (!UseDora[adapter]) return base.AddAdapterOutput(ids, result, adapter);
        using var lambda = DoraMath.Lambda(this, adapter);        // (dim)
        using var lora = LoraOutput(ids, adapter);                // (..., dim), f32
        using var resultF = MaybeOwned.Cast(result, DType.F32);
        using var sum = Ops.Add(resultF.Value, lora);
        if (result.DType == DType.F32) return Ops.Mul(sum, lambda);   // λ ⊙ (E[x] + s·Aᵀ[x]·Bᵀ)
        using var scaled = Ops.Mul(sum, lambda);
        return Ops.Cast(scaled, result.DType);
    }
}
