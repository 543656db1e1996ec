namespace PeftEngine;

/// <summary>
/// The kernel contract every device implements. Kernels know layouts (shape, strides, offset) but nothing of
/// autograd: the ops in <c>Ops/</c> call these and record the graph. Each op family adds its kernels in its
/// own part of this interface (<c>IBackend.&lt;Family&gt;.cs</c>).
/// </summary>
/// <remarks>
/// Conventions for every kernel: outputs are preallocated by the caller and contiguous unless a kernel says
/// otherwise; inputs may be strided views (a broadcast input has stride 0); all tensors of one call share the
/// device; dtypes are checked by the op before the call.
/// </remarks>
public partial interface IBackend
{
    /// <summary>The device this backend computes on.</summary>
    Device Device { get; }

    /// <summary>Allocates uninitialised memory for <paramref name="bytes"/> bytes.</summary>
    Storage Allocate(long bytes);

    /// <summary>Copies host bytes into <paramref name="dst"/> starting at byte <paramref name="byteOffset"/>.</summary>
    void CopyFromHost(ReadOnlySpan<byte> src, Storage dst, long byteOffset);

    /// <summary>Copies bytes of <paramref name="src"/> starting at byte <paramref name="byteOffset"/> to the host.</summary>
    void CopyToHost(Storage src, long byteOffset, Span<byte> dst);

    /// <summary>dst[i] = src[i] for every index of the (equal) shapes; any strides on both sides; same dtype.</summary>
    void Copy(Tensor src, Tensor dst);

    /// <summary>dst[i] = (dtype)src[i]: converts between any two dtypes (rounding to nearest even when narrowing
    /// floats, truncating toward zero from float to integer).</summary>
    void Cast(Tensor src, Tensor dst);

    /// <summary>Sets every element of <paramref name="dst"/> (any strides) to <paramref name="value"/>.</summary>
    void Fill(Tensor dst, double value);
}
