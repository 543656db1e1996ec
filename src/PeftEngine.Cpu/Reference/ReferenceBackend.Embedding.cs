namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    public void Embedding(Tensor weight, Tensor ids, Tensor y)
    {
        int vocab = weight.Shape[0], d = weight.Shape[1];
        for (long i = 0; i < ids.Numel; i++)
        {
            long id = CheckedId(ids, i, vocab, "Embedding");
            for (int j = 0; j < d; j++)
                WriteDouble(y, y.Offset + i * d + j, ReadAsDouble(weight, weight.Offset + id * d + j));
        }
    }

    public void EmbeddingBackward(Tensor ids, Tensor dy, Tensor dweight)
    {
        int vocab = dweight.Shape[0], d = dweight.Shape[1];
        var sums = new double[(long)vocab * d];
        for (long i = 0; i < ids.Numel; i++)
        {
            long id = CheckedId(ids, i, vocab, "EmbeddingBackward");
            for (int j = 0; j < d; j++) sums[id * d + j] += ReadAsDouble(dy, dy.Offset + i * d + j);
        }
        for (long k = 0; k < sums.Length; k++) WriteDouble(dweight, dweight.Offset + k, sums[k]);
    }

    /// <summary>ids[i] after checking it indexes a table of <paramref name="vocab"/> rows.</summary>
    private static long CheckedId(Tensor ids, long i, int vocab, string op)
    {
        long id = (long)ReadAsDouble(ids, ids.Offset + i);
        if (id < 0 || id >= vocab)
            throw new ArgumentOutOfRangeException(nameof(ids), $"{op}: id {id} at position {i} is outside the table of {vocab} rows");
        return id;
    }
}
