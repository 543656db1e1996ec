using ILGPU;
using ILGPU.Runtime;

namespace PeftEngine.Gpu;

/// <summary>Device memory: one block of an ILGPU accelerator's memory, rented from a <see cref="DeviceAllocator"/>.</summary>
/// <remarks>PyTorch: the untyped storage of a CUDA tensor. The block may be larger than <see cref="Storage.ByteLength"/>
/// (the allocator rounds sizes up); kernels see it as a typed <see cref="ArrayView{T}"/> over the whole block.</remarks>
public sealed class DeviceStorage : Storage
{
    private readonly DeviceAllocator _allocator;
    private readonly MemoryBuffer1D<byte, Stride1D.Dense> _buffer;

    internal DeviceStorage(Device device, DeviceAllocator allocator, long byteLength) : base(device, byteLength)
    {
        _allocator = allocator;
        _buffer = allocator.Rent(byteLength);
    }

    /// <summary>The whole block as bytes.</summary>
    internal ArrayView1D<byte, Stride1D.Dense> Bytes
    {
        get
        {
            if (IsFreed) throw new ObjectDisposedException(nameof(DeviceStorage), $"the tensor's memory on {Device} was already freed (it was disposed)");
            return _buffer.View;
        }
    }

    /// <summary>The block as elements of <typeparamref name="T"/> (the block size is a multiple of 256 bytes).</summary>
    internal ArrayView<T> As<T>() where T : unmanaged => Bytes.AsContiguous().Cast<T>();

    protected override void Free() => _allocator.Return(_buffer);
}
