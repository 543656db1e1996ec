namespace PeftEngine.Cpu;

/// <summary>
/// A block of <typeparamref name="T"/> scratch memory rented from the engine's pooled host allocator (64-byte
/// aligned, not cleared) and handed back on <see cref="Dispose"/>: a kernel that runs many times with the same
/// sizes reuses the same blocks instead of allocating (and zeroing) fresh arrays on every call.
/// </summary>
internal readonly unsafe struct PooledBlock<T> : IDisposable where T : unmanaged
{
    private readonly long _bytes;

    /// <summary>Rents room for <paramref name="count"/> elements (none when count is 0).</summary>
    public PooledBlock(long count)
    {
        _bytes = count * sizeof(T);
        Ptr = count > 0 ? (T*)HostAllocator.Shared.Rent(_bytes) : null;
    }

    /// <summary>The first element; its contents are whatever the previous user left.</summary>
    public T* Ptr { get; }

    /// <summary>Returns the block to the pool.</summary>
    public void Dispose()
    {
        if (Ptr != null) HostAllocator.Shared.Return(Ptr, _bytes);
    }
}
