using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PeftEngine.Cpu;

/// <summary>What the fast and the reference CPU backends share: host memory and byte transfers.</summary>
public abstract unsafe partial class HostBackendBase
{
    protected HostBackendBase(Device device) => Device = device;

    public Device Device { get; }

    public Storage Allocate(long bytes) => new HostStorage(Device, HostAllocator.Shared, bytes);

    public void CopyFromHost(ReadOnlySpan<byte> src, Storage dst, long byteOffset)
    {
        var h = AsHost(dst);
        if (byteOffset + src.Length > h.ByteLength) throw new ArgumentOutOfRangeException(nameof(src), "copy runs past the end of the storage");
        src.CopyTo(new Span<byte>((byte*)h.Pointer + byteOffset, src.Length));
    }

    public void CopyToHost(Storage src, long byteOffset, Span<byte> dst)
    {
        var h = AsHost(src);
        if (byteOffset + dst.Length > h.ByteLength) throw new ArgumentOutOfRangeException(nameof(dst), "copy runs past the end of the storage");
        new ReadOnlySpan<byte>((byte*)h.Pointer + byteOffset, dst.Length).CopyTo(dst);
    }

    protected static HostStorage AsHost(Storage s) =>
        s as HostStorage ?? throw new ArgumentException($"expected host memory, got storage on {s.Device}");

    /// <summary>Reads element <paramref name="index"/> of any dtype as a double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected static double ReadAsDouble(Tensor t, long index) => ReadElement(t.DType, (byte*)t.HostStorage.Pointer, index);

    /// <summary>Writes a double into element <paramref name="index"/>, rounding to the dtype.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    protected static void WriteDouble(Tensor t, long index, double v) => WriteElement(t.DType, (byte*)t.HostStorage.Pointer, index, v);

    /// <summary>Element <paramref name="index"/> of an array of <paramref name="dtype"/> values at
    /// <paramref name="p"/>, as a double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static double ReadElement(DType dtype, byte* p, long index) => dtype switch
    {
        DType.F32 => ((float*)p)[index],
        DType.F64 => ((double*)p)[index],
        DType.F16 => (double)((Half*)p)[index],
        DType.BF16 => ((BFloat16*)p)[index].ToSingle(),
        DType.I32 => ((int*)p)[index],
        DType.I64 => ((long*)p)[index],
        DType.U8 => p[index],
        _ => throw new NotSupportedException(dtype.ToString()),
    };

    /// <summary>Stores <paramref name="v"/>, rounded to <paramref name="dtype"/>, as element <paramref name="index"/>
    /// of the array at <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void WriteElement(DType dtype, byte* p, long index, double v)
    {
        switch (dtype)
        {
            case DType.F32: ((float*)p)[index] = (float)v; break;
            case DType.F64: ((double*)p)[index] = v; break;
            case DType.F16: ((Half*)p)[index] = (Half)v; break;
            case DType.BF16: ((BFloat16*)p)[index] = BFloat16.FromSingle((float)v); break;
            case DType.I32: ((int*)p)[index] = checked((int)v); break;
            case DType.I64: ((long*)p)[index] = (long)v; break;
            case DType.U8: p[index] = checked((byte)v); break;
            default: throw new NotSupportedException(dtype.ToString());
        }
    }

    /// <summary>Raw byte copy of element <paramref name="si"/> of src into element <paramref name="di"/> of dst.</summary>
    protected static void CopyElementBytes(Tensor src, long si, Tensor dst, long di)
    {
        int size = src.DType.SizeOf();
        var s = (byte*)src.HostStorage.Pointer + si * size;
        var d = (byte*)dst.HostStorage.Pointer + di * size;
        Buffer.MemoryCopy(s, d, size, size);
    }

    /// <summary>The storage index of every element of <paramref name="t"/> in row-major order: the plain
    /// definition of a strided layout (an odometer over the indices).</summary>
    protected static IEnumerable<long> ElementOffsets(Tensor t)
    {
        long n = t.Numel;
        if (n == 0) yield break;
        var idx = new int[t.Rank];
        var strides = t.StridesArray();
        var dims = t.Shape.ToArray();
        long off = t.Offset;
        for (long k = 0; k < n; k++)
        {
            yield return off;
            for (int d = t.Rank - 1; d >= 0; d--)
            {
                idx[d]++;
                off += strides[d];
                if (idx[d] < dims[d]) break;
                off -= strides[d] * dims[d];
                idx[d] = 0;
            }
        }
    }

    /// <summary>Typed pointer to the first element of t's view.</summary>
    protected static T* Ptr<T>(Tensor t) where T : unmanaged => t.HostStorage.Ptr<T>(t.Offset);

    /// <summary>A span over the elements of a contiguous tensor.</summary>
    protected static Span<T> Span<T>(Tensor t) where T : unmanaged
    {
        if (!t.IsContiguous) throw new ArgumentException($"internal error: kernel expected a contiguous tensor, got {t.Shape} with strides ({string.Join(", ", t.StridesArray())})");
        return t.HostStorage.AsSpan<T>(t.Offset, t.Numel);
    }

    /// <summary>Throws naming the kernel when the dtype is not one it computes in.</summary>
    protected static NotSupportedException Unsupported(string kernel, DType dtype) =>
        new($"{kernel}: no kernel for dtype {dtype.Name()}");

    /// <summary>Number of bytes per element reinterpret helper.</summary>
    protected static ReadOnlySpan<byte> Bytes<T>(ReadOnlySpan<T> s) where T : unmanaged => MemoryMarshal.AsBytes(s);
}
