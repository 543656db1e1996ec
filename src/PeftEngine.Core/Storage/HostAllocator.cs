using System.Runtime.InteropServices;

namespace PeftEngine;

/// <summary>
/// A caching allocator for host memory. Freed blocks are kept in free lists keyed by their rounded size and handed
/// out again, so a training loop that repeats the same shapes stops allocating after its first step. Blocks are
/// 64-byte aligned for AVX-512 loads. Sizes above 64 KiB are rounded up to one of eight steps per power of two
/// (at most 12.5% slack), so batches whose lengths vary a little (padding to the longest sequence) share blocks
/// instead of each filling the cache with sizes of its own.
/// </summary>
/// <remarks>PyTorch: the CUDA caching allocator; here for host memory. Thread safe.</remarks>
public sealed unsafe class HostAllocator
{
    private const int Alignment = 64;
    private readonly Dictionary<long, Stack<IntPtr>> _free = new();
    private readonly object _lock = new();
    private long _inUse;
    private long _cached;
    private long _peakInUse;

    /// <summary>The allocator shared by all host devices.</summary>
    public static HostAllocator Shared { get; } = new();

    /// <summary>Cached bytes above this limit are returned to the OS instead of kept.</summary>
    public long CacheLimitBytes { get; set; } = 1L << 30;

    /// <summary>Bytes currently handed out to live storages.</summary>
    public long BytesInUse => Interlocked.Read(ref _inUse);

    /// <summary>Bytes held in the free lists, ready for reuse.</summary>
    public long BytesCached => Interlocked.Read(ref _cached);

    /// <summary>The highest <see cref="BytesInUse"/> seen since the last <see cref="ResetPeak"/>.</summary>
    public long PeakBytesInUse => Interlocked.Read(ref _peakInUse);

    /// <summary>Starts a new peak measurement.</summary>
    public void ResetPeak() { lock (_lock) _peakInUse = _inUse; }

    private static long Round(long bytes)
    {
        long aligned = Math.Max(Alignment, (bytes + Alignment - 1) / Alignment * Alignment);
        if (aligned <= 64 * 1024) return aligned;
        long step = (1L << (63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)aligned))) / 8;   // power of two / 8
        return (aligned + step - 1) / step * step;
    }

    internal void* Rent(long bytes)
    {
        long size = Round(bytes);
        lock (_lock)
        {
            _inUse += size;
            if (_inUse > _peakInUse) _peakInUse = _inUse;
            if (_free.TryGetValue(size, out var stack) && stack.Count > 0)
            {
                _cached -= size;
                return (void*)stack.Pop();
            }
        }
        void* p = NativeMemory.AlignedAlloc((nuint)size, Alignment);
        if (p == null) throw new OutOfMemoryException($"could not allocate {size} bytes of host memory");
        GC.AddMemoryPressure(size);
        return p;
    }

    internal void Return(void* p, long bytes)
    {
        long size = Round(bytes);
        lock (_lock)
        {
            _inUse -= size;
            if (_cached + size <= CacheLimitBytes)
            {
                if (!_free.TryGetValue(size, out var stack)) _free[size] = stack = new Stack<IntPtr>();
                stack.Push((IntPtr)p);
                _cached += size;
                return;
            }
        }
        NativeMemory.AlignedFree(p);
        GC.RemoveMemoryPressure(size);
    }

    /// <summary>Returns every cached block to the OS.</summary>
    public void EmptyCache()
    {
        lock (_lock)
        {
            foreach (var (size, stack) in _free)
                while (stack.Count > 0)
                {
                    NativeMemory.AlignedFree((void*)stack.Pop());
                    GC.RemoveMemoryPressure(size);
                }
            _free.Clear();
            _cached = 0;
        }
    }
}
