using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// BERT's input layer: the sum of a word embedding, a learned absolute position embedding and a token-type
/// (segment) embedding, followed by LayerNorm and dropout. Maps ids (B, T) to (B, T, C).
/// </summary>
/// <remarks>HF: transformers.models.bert.modeling_bert.BertEmbeddings (children word_embeddings,
/// position_embeddings, token_type_embeddings, LayerNorm, dropout). Only absolute positions are supported.</remarks>
public sealed class BertEmbeddings : Module
{
    /// <summary>Creates the embeddings with HF's initialisation (N(0, initializer_range²), padding row zeroed).</summary>
    public BertEmbeddings(BertConfig config, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.PositionEmbeddingType != "absolute")
            throw new NotSupportedException($"BertEmbeddings: position_embedding_type '{config.PositionEmbeddingType}' is not supported; only 'absolute'");
        MaxPositions = config.MaxPositionEmbeddings;
        TypeVocabSize = config.TypeVocabSize;
        int c = config.HiddenSize;
        var words = RegisterModule("word_embeddings", new Embedding(config.VocabSize, c, config.PadTokenId, dtype, generator));
        var positions = RegisterModule("position_embeddings", new Embedding(config.MaxPositionEmbeddings, c, dtype: dtype, generator: generator));
        var types = RegisterModule("token_type_embeddings", new Embedding(config.TypeVocabSize, c, dtype: dtype, generator: generator));
        RegisterModule("LayerNorm", new LayerNorm(c, config.LayerNormEps, dtype: dtype));
        RegisterModule("dropout", new Dropout(config.HiddenDropoutProb, generator));
        using (GradMode.Disable())
        {
            foreach (var e in new[] { words, positions, types })
            {
                Init.Normal(e.Weight, 0, BertModel.InitializerRange, generator);
                if (e.PaddingIdx is int p)
                    using (var row = Ops.Select(e.Weight, 0, p)) Ops.FillInPlace(row, 0);
            }
        }
    }

    /// <summary>Longest sequence the position table covers (max_position_embeddings).</summary>
    public int MaxPositions { get; }

    /// <summary>Number of token types (type_vocab_size).</summary>
    public int TypeVocabSize { get; }

    /// <summary>The word embedding table (V, C).</summary>
    public Embedding WordEmbeddings => GetSubmodule<Embedding>("word_embeddings");

    /// <summary>ids (B, T) I64 -> (B, T, C), all tokens of type 0.</summary>
    public override Tensor Forward(Tensor ids) => Forward(ids, null);

    /// <summary>ids (B, T) I64 and optional <paramref name="tokenTypeIds"/> (B, T) I64 (zeros when null) -> (B, T, C).
    /// Positions are 0 .. T-1.</summary>
    /// <remarks>HF: BertEmbeddings.forward(input_ids, token_type_ids).</remarks>
    public Tensor Forward(Tensor ids, Tensor? tokenTypeIds)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Rank != 2 || ids.DType != DType.I64)
            throw new ArgumentException($"BertEmbeddings: input ids must be (B, T) i64, got {ids.DType.Name()} {ids.Shape}");
        int t = ids.Shape[1];
        if (t == 0 || t > MaxPositions)
            throw new ArgumentException($"BertEmbeddings: sequence length {t} must be in [1, max_position_embeddings = {MaxPositions}]");
        if (tokenTypeIds is not null && (tokenTypeIds.Shape != ids.Shape || tokenTypeIds.DType != DType.I64))
            throw new ArgumentException($"BertEmbeddings: token type ids must be i64 with the ids' shape {ids.Shape}, got {tokenTypeIds.DType.Name()} {tokenTypeIds.Shape}");

        using var words = GetChild("word_embeddings").Forward(ids);                     // (B, T) -> (B, T, C)
        using var positionIds = Ops.Arange(0, t, dtype: DType.I64, device: ids.Device);  // (T)
        using var positions = GetChild("position_embeddings").Forward(positionIds);     // (T) -> (T, C), broadcast over B
        using var types = tokenTypeIds is null
            ? TypeZeroRow()                                                              // (C), broadcast over (B, T)
            : GetChild("token_type_embeddings").Forward(tokenTypeIds);                  // (B, T) -> (B, T, C)
        using var wordsAndTypes = Ops.Add(words, types);
        using var summed = Ops.Add(wordsAndTypes, positions);
        using var normed = GetChild("LayerNorm").Forward(summed);
        return GetChild("dropout").Forward(normed);
    }

    private Tensor TypeZeroRow()
    {
        var table = GetSubmodule<Embedding>("token_type_embeddings").Weight;
        return Ops.Select(table, 0, 0);   // (types, C) -> (C), keeps the gradient path to row 0
    }
}
