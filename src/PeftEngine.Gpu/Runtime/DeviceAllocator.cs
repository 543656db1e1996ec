using ILGPU;
using ILGPU.Runtime;

namespace PeftEngine.Gpu;

/// <summary>
/// A caching allocator for device memory. Freed blocks are kept in a free list per rounded size and handed out
/// again, because allocating device memory synchronises the device and is slow. <see cref="ReleaseCached"/> and
/// <see cref="Dispose"/> give the cached blocks back to the driver at a point the caller chooses.
/// </summary>
/// <remarks>
/// Sizes are rounded up to a multiple of 512 bytes below 1 MiB and to a multiple of 1/8 of the next power of two
/// above, so a block is at most 12.5% larger than asked for. PyTorch: the CUDA caching allocator and
/// torch.cuda.empty_cache().
/// </remarks>
public sealed class DeviceAllocator : IDisposable
{
    private readonly Accelerator _accelerator;
    private readonly Dictionary<long, Stack<MemoryBuffer1D<byte, Stride1D.Dense>>> _free = new();
    // Blocks handed out. Holding them here keeps each ILGPU buffer reachable for as long as its storage is: a
    // storage that is finalized instead of disposed returns its block from the finalizer thread, and the block
    // must not have been finalized (freed by ILGPU) before that.
    private readonly HashSet<MemoryBuffer1D<byte, Stride1D.Dense>> _live = new();
    private readonly object _lock = new();
    private bool _disposed;

    internal DeviceAllocator(Accelerator accelerator) => _accelerator = accelerator;

    /// <summary>Bytes held by live tensors.</summary>
    public long BytesInUse { get; private set; }

    /// <summary>Bytes held in the free lists, ready for reuse.</summary>
    public long BytesCached { get; private set; }

    /// <summary>Number of blocks handed out again from the cache instead of being allocated.</summary>
    public long CacheHits { get; private set; }

    /// <summary>The block size a request of <paramref name="bytes"/> is served with.</summary>
    public static long RoundUp(long bytes)
    {
        bytes = Math.Max(bytes, 1);
        if (bytes <= 1 << 20) return (bytes + 511) / 512 * 512;
        long pow = 1L << (64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1)));
        long step = pow / 8;
        return (bytes + step - 1) / step * step;
    }

    internal MemoryBuffer1D<byte, Stride1D.Dense> Rent(long bytes)
    {
        long size = RoundUp(bytes);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            BytesInUse += size;
            if (_free.TryGetValue(size, out var stack) && stack.Count > 0)
            {
                BytesCached -= size;
                CacheHits++;
                var reused = stack.Pop();
                _live.Add(reused);
                return reused;
            }
        }
        try
        {
            var fresh = _accelerator.Allocate1D<byte>(size);
            lock (_lock) _live.Add(fresh);
            return fresh;
        }
        catch
        {
            lock (_lock) BytesInUse -= size;
            // Out of memory: give the cache back and try once more.
            ReleaseCached();
            var buffer = _accelerator.Allocate1D<byte>(size);
            lock (_lock)
            {
                BytesInUse += size;
                _live.Add(buffer);
            }
            return buffer;
        }
    }

    internal void Return(MemoryBuffer1D<byte, Stride1D.Dense> buffer)
    {
        long size = buffer.Length;
        lock (_lock)
        {
            BytesInUse -= size;
            _live.Remove(buffer);
            if (_disposed)
            {
                buffer.Dispose();
                return;
            }
            if (!_free.TryGetValue(size, out var stack)) _free[size] = stack = new Stack<MemoryBuffer1D<byte, Stride1D.Dense>>();
            stack.Push(buffer);
            BytesCached += size;
        }
    }

    /// <summary>Frees every cached block now (blocks of live tensors are untouched).</summary>
    /// <remarks>PyTorch: torch.cuda.empty_cache().</remarks>
    public void ReleaseCached()
    {
        List<MemoryBuffer1D<byte, Stride1D.Dense>> blocks;
        lock (_lock)
        {
            blocks = _free.Values.SelectMany(s => s).ToList();
            _free.Clear();
            BytesCached = 0;
        }
        if (blocks.Count == 0) return;
        _accelerator.Synchronize(); // queued kernels may still use a block that was just returned
        foreach (var b in blocks) b.Dispose();
    }

    /// <summary>Frees the cached blocks; blocks still in use are freed when their tensors are disposed.</summary>
    public void Dispose()
    {
        lock (_lock) _disposed = true;
        ReleaseCached();
    }
}
