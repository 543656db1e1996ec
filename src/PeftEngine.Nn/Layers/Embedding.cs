namespace PeftEngine.Nn;

/// <summary>A lookup table: row i of the weight (num, dim) is the vector of token i.</summary>
/// <remarks>PyTorch: torch.nn.Embedding(num_embeddings, embedding_dim, padding_idx); weight ~ N(0, 1) with the
/// padding row zeroed. (PyTorch also keeps the padding row's gradient at zero; here the padding index only
/// affects initialisation.)</remarks>
public sealed class Embedding : Module
{
    /// <summary>Creates the table with N(0, 1) rows.</summary>
    public Embedding(int numEmbeddings, int embeddingDim, int? paddingIdx = null, DType dtype = DType.F32, Generator? generator = null)
    {
        if (numEmbeddings <= 0 || embeddingDim <= 0)
            throw new ArgumentException($"Embedding: sizes must be positive, got {numEmbeddings} x {embeddingDim}");
        if (paddingIdx is int pi && (pi < 0 || pi >= numEmbeddings))
            throw new ArgumentOutOfRangeException(nameof(paddingIdx), $"Embedding: padding index {pi} is outside [0, {numEmbeddings})");
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
        PaddingIdx = paddingIdx;
        var w = Tensor.Empty(new Shape(numEmbeddings, embeddingDim), dtype);
        Init.Normal(w, 0, 1, generator);
        if (paddingIdx is int p)
            using (var row = Ops.Select(w, 0, p)) Ops.FillInPlace(row, 0);
        RegisterParameter("weight", w);
    }

    /// <summary>Number of rows.</summary>
    public int NumEmbeddings { get; }

    /// <summary>Length of each vector.</summary>
    public int EmbeddingDim { get; }

    /// <summary>The row zeroed at initialisation, if any.</summary>
    public int? PaddingIdx { get; }

    /// <summary>The table (num, dim).</summary>
    public Parameter Weight => GetParameter("weight")!;

    /// <summary>I64 ids (…) -> vectors (…, dim).</summary>
    /// <remarks>A bf16/f16 table gives f32 vectors (see <see cref="HalfPrecision"/>).</remarks>
    public override Tensor Forward(Tensor ids)
    {
        var y = Ops.Embedding(Weight, ids);
        if (!HalfPrecision.IsHalf(y.DType)) return y;
        using (y) return Ops.Cast(y, DType.F32);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{NumEmbeddings}, {EmbeddingDim}" + (PaddingIdx is int p ? $", padding_idx={p}" : "");
}
