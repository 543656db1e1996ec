namespace PeftEngine;

/// <summary>
/// A block of device memory shared by every tensor that views it. Reference counted: each tensor holds one
/// reference and the memory goes back to its device's allocator when the last tensor is disposed.
/// </summary>
/// <remarks>
/// <see cref="Version"/> counts in-place writes. Autograd records it when it saves a tensor for backward and
/// refuses to use the tensor if it changed in between (PyTorch's version counter).
/// </remarks>
public abstract class Storage
{
    private int _refCount;
    private int _freed;

    protected Storage(Device device, long byteLength)
    {
        Device = device;
        ByteLength = byteLength;
    }

    /// <summary>The device that owns this memory.</summary>
    public Device Device { get; }

    /// <summary>The size in bytes.</summary>
    public long ByteLength { get; }

    /// <summary>Bumped by every in-place write through any view.</summary>
    public int Version { get; private set; }

    /// <summary>True once the memory has been handed back.</summary>
    public bool IsFreed => Volatile.Read(ref _freed) != 0;

    /// <summary>Records an in-place write (called by in-place ops, optimizers and caches).</summary>
    public void BumpVersion() => Version++;

    internal void AddRef()
    {
        if (IsFreed) throw new ObjectDisposedException(nameof(Storage), "the storage was already freed; a disposed tensor was used");
        Interlocked.Increment(ref _refCount);
    }

    internal void Release()
    {
        if (Interlocked.Decrement(ref _refCount) == 0) FreeOnce();
    }

    private void FreeOnce()
    {
        if (Interlocked.Exchange(ref _freed, 1) == 0)
        {
            Free();
            GC.SuppressFinalize(this);
        }
    }

    /// <summary>Gives the memory back to the allocator. Called exactly once.</summary>
    protected abstract void Free();

    /// <summary>Safety net: memory of storages that were never disposed goes back when the GC collects them.</summary>
    ~Storage()
    {
        if (Interlocked.Exchange(ref _freed, 1) == 0) Free();
    }
}
