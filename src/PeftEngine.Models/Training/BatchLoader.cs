using PeftEngine.IO.Datasets;

namespace PeftEngine.Models.Training;

/// <summary>Where a <see cref="BatchLoader"/> stands: the epoch and the number of batches already taken from it.</summary>
/// <param name="Epoch">Passes completed over the data (0 during the first).</param>
/// <param name="Batch">Batches taken from the current epoch.</param>
public readonly record struct DataPosition(int Epoch, int Batch);

/// <summary>
/// An endless, resumable stream of padded batches: each epoch visits every example once in an order fixed by
/// (seed, epoch), then the next epoch reshuffles. The stream depends only on the examples, the seed and the
/// <see cref="Position"/>, so a loader restored to a saved position yields exactly the batches the original would
/// have yielded next.
/// </summary>
/// <remarks>PyTorch: a <c>DataLoader</c> with a seeded <c>RandomSampler</c> (HF Trainer calls
/// <c>set_epoch</c> on it each epoch) plus the "skip the first batches" logic of HF's resume. A short last batch
/// of an epoch is dropped so every batch has the same size.</remarks>
public sealed class BatchLoader
{
    private readonly IReadOnlyList<TrainingExample> _examples;
    private int[] _order = [];
    private int _orderEpoch = -1;

    /// <summary>Creates a loader over <paramref name="examples"/>.</summary>
    /// <param name="examples">The examples (at least <paramref name="batchSize"/>).</param>
    /// <param name="batchSize">Examples per batch.</param>
    /// <param name="padId">Token id used to pad short examples.</param>
    /// <param name="seed">Shuffle seed; null keeps the examples in order every epoch.</param>
    public BatchLoader(IReadOnlyList<TrainingExample> examples, int batchSize, int padId, ulong? seed)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (examples.Count < batchSize)
            throw new ArgumentException($"BatchLoader: {examples.Count} examples cannot fill one batch of {batchSize}.", nameof(examples));
        _examples = examples;
        BatchSize = batchSize;
        PadId = padId;
        Seed = seed;
    }

    /// <summary>Examples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>The padding token id.</summary>
    public int PadId { get; }

    /// <summary>The shuffle seed (null: no shuffling).</summary>
    public ulong? Seed { get; }

    /// <summary>Full batches in one epoch.</summary>
    public int BatchesPerEpoch => _examples.Count / BatchSize;

    /// <summary>The position of the next batch.</summary>
    public DataPosition Position { get; set; }

    /// <summary>The examples of the next batch, advancing the position.</summary>
    public IReadOnlyList<TrainingExample> NextExamples()
    {
        var (epoch, batch) = Position;
        if (batch >= BatchesPerEpoch)
        {
            epoch++;
            batch = 0;
        }
        if (_orderEpoch != epoch)
        {
            _order = Seed is { } s
                ? Batching.ShuffledOrder(_examples.Count, s + (ulong)epoch * 0x9E3779B97F4A7C15UL)
                : Enumerable.Range(0, _examples.Count).ToArray();
            _orderEpoch = epoch;
        }
        var picked = new TrainingExample[BatchSize];
        for (int i = 0; i < BatchSize; i++) picked[i] = _examples[_order[batch * BatchSize + i]];
        Position = new DataPosition(epoch, batch + 1);
        return picked;
    }

    /// <summary>The next batch, padded on the right (the caller disposes it).</summary>
    public Batch Next() => Batching.Collate(NextExamples(), PadId);

    /// <summary>Every batch of one pass in order, without shuffling or moving <see cref="Position"/> (for
    /// evaluation); the last batch may be short.</summary>
    public IEnumerable<Batch> OnePass() => Batching.Batches(_examples, BatchSize, PadId);
}
