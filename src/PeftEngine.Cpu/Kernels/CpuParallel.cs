namespace PeftEngine.Cpu;

/// <summary>
/// Splits a loop over items into fixed-size chunks and runs the chunks on the thread pool. Chunk boundaries
/// depend only on the item count and the grain, never on the thread count, so a kernel that reduces within a
/// chunk gives bit-identical results however many threads run it.
/// </summary>
public static class CpuParallel
{
    private static int _threads = Environment.ProcessorCount;

    /// <summary>How many threads kernels use (default: the processor count). 1 runs everything inline.</summary>
    public static int Threads
    {
        get => _threads;
        set => _threads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), "thread count must be at least 1");
    }

    /// <summary>Work below this many element-operations runs on the calling thread.</summary>
    public const long MinParallelWork = 1 << 15;

    /// <summary>The most chunks one loop is cut into.</summary>
    public const long MaxChunks = 1024;

    /// <summary>Runs body(start, end) over [0, count) in chunks; <paramref name="workPerItem"/> estimates the
    /// cost of one item in element-operations and decides whether threads are worth it.</summary>
    public static void For(long count, long workPerItem, Action<long, long> body)
    {
        if (count <= 0) return;
        long totalWork = count * Math.Max(1, workPerItem);
        if (totalWork < MinParallelWork || count == 1)
        {
            body(0, count);
            return;
        }
        // The chunk count depends on the amount of work alone (never on the thread count): about
        // MinParallelWork element-operations per chunk, at most MaxChunks chunks.
        long chunks = Math.Clamp(totalWork / MinParallelWork, 2, MaxChunks);
        chunks = Math.Min(chunks, count);
        long chunkSize = (count + chunks - 1) / chunks;
        long nChunks = (count + chunkSize - 1) / chunkSize;
        if (_threads == 1)
        {
            for (long c = 0; c < nChunks; c++) body(c * chunkSize, Math.Min(count, (c + 1) * chunkSize));
            return;
        }
        Parallel.For(0, nChunks, new ParallelOptions { MaxDegreeOfParallelism = _threads }, c =>
        {
            long start = c * chunkSize;
            body(start, Math.Min(count, start + chunkSize));
        });
    }
}
