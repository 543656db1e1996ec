using System.Runtime.CompilerServices;

namespace PeftEngine;

/// <summary>Host memory: 64-byte aligned native memory from <see cref="HostAllocator"/>.</summary>
public sealed unsafe class HostStorage : Storage
{
    private readonly HostAllocator _allocator;

    internal HostStorage(Device device, HostAllocator allocator, long byteLength) : base(device, byteLength)
    {
        _allocator = allocator;
        Pointer = allocator.Rent(byteLength);
    }

    /// <summary>The start of the block.</summary>
    public void* Pointer { get; }

    /// <summary>A span over <paramref name="length"/> elements of <typeparamref name="T"/> starting at element
    /// <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<T> AsSpan<T>(long offset, long length) where T : unmanaged
    {
        if (IsFreed) throw new ObjectDisposedException(nameof(HostStorage), "the tensor's memory was already freed (it was disposed)");
        return new Span<T>((T*)Pointer + offset, checked((int)length));
    }

    /// <summary>A typed pointer to element <paramref name="offset"/>.</summary>
    public T* Ptr<T>(long offset = 0) where T : unmanaged
    {
        if (IsFreed) throw new ObjectDisposedException(nameof(HostStorage), "the tensor's memory was already freed (it was disposed)");
        return (T*)Pointer + offset;
    }

    protected override void Free() => _allocator.Return(Pointer, ByteLength);
}
