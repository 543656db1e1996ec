namespace PeftEngine.IO.Datasets;

/// <summary>A padded batch: input ids (B, T) I64, attention mask (B, T) U8 (1 = token, 0 = padding) and labels
/// (B, T) I64 with -100 at padding and masked positions. Dispose it when done.</summary>
public sealed class Batch(Tensor inputIds, Tensor attentionMask, Tensor labels) : IDisposable
{
    /// <summary>Token ids, padded with the pad id.</summary>
    public Tensor InputIds { get; } = inputIds;

    /// <summary>1 where a real token is, 0 at padding.</summary>
    public Tensor AttentionMask { get; } = attentionMask;

    /// <summary>Labels, -100 where no loss is taken.</summary>
    public Tensor Labels { get; } = labels;

    /// <summary>Disposes the three tensors.</summary>
    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
        Labels.Dispose();
    }
}

/// <summary>Deterministic shuffling and padding of examples into batches.</summary>
/// <remarks>HF: <c>DataCollatorForSeq2Seq</c> (label_pad_token_id=-100) with a seeded <c>RandomSampler</c>.
/// The shuffle uses its own SplitMix64 generator, so an order depends only on the seed.</remarks>
public static class Batching
{
    /// <summary>A permutation of 0..count-1 fixed by <paramref name="seed"/> (Fisher-Yates over SplitMix64).</summary>
    public static int[] ShuffledOrder(int count, ulong seed)
    {
        var order = Enumerable.Range(0, count).ToArray();
        ulong state = seed;
        for (int i = count - 1; i > 0; i--)
        {
            int j = (int)(NextUInt64(ref state) % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    private static ulong NextUInt64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// Pads examples to the longest one (rounded up to <paramref name="padToMultipleOf"/>) with
    /// <paramref name="padId"/>; padding goes on the right, or on the left when <paramref name="padLeft"/>.
    /// </summary>
    public static Batch Collate(IReadOnlyList<TrainingExample> examples, int padId, int padToMultipleOf = 1, bool padLeft = false)
    {
        if (examples.Count == 0) throw new ArgumentException("Collate: no examples");
        int t = examples.Max(e => e.Length);
        if (padToMultipleOf > 1) t = (t + padToMultipleOf - 1) / padToMultipleOf * padToMultipleOf;
        int b = examples.Count;
        var ids = new long[b * t];
        var mask = new byte[b * t];
        var labels = new long[b * t];
        for (int r = 0; r < b; r++)
        {
            var e = examples[r];
            if (e.Labels.Length != e.Length)
                throw new ArgumentException($"Collate: example {r} has {e.Length} ids but {e.Labels.Length} labels");
            int start = padLeft ? t - e.Length : 0;
            for (int c = 0; c < t; c++)
            {
                int k = c - start;
                bool real = k >= 0 && k < e.Length;
                ids[r * t + c] = real ? e.InputIds[k] : padId;
                mask[r * t + c] = (byte)(real ? 1 : 0);
                labels[r * t + c] = real ? e.Labels[k] : TrainingExample.IgnoreIndex;
            }
        }
        return new Batch(Tensor.FromArray(ids, b, t), Tensor.FromArray(mask, b, t), Tensor.FromArray(labels, b, t));
    }

    /// <summary>
    /// Splits examples into batches of <paramref name="batchSize"/>, in a seeded shuffled order when
    /// <paramref name="seed"/> is given (else in order), dropping a short last batch when <paramref name="dropLast"/>.
    /// </summary>
    public static IEnumerable<Batch> Batches(IReadOnlyList<TrainingExample> examples, int batchSize, int padId,
        ulong? seed = null, bool dropLast = false, int padToMultipleOf = 1, bool padLeft = false)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Batches: the batch size must be positive");
        int[] order = seed is { } s ? ShuffledOrder(examples.Count, s) : Enumerable.Range(0, examples.Count).ToArray();
        for (int i = 0; i < order.Length; i += batchSize)
        {
            int n = Math.Min(batchSize, order.Length - i);
            if (n < batchSize && dropLast) yield break;
            yield return Collate(order.Skip(i).Take(n).Select(k => examples[k]).ToList(), padId, padToMultipleOf, padLeft);
        }
    }
}
