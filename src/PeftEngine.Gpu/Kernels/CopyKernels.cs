using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>Kernels that move or convert elements: strided copy, dtype cast, fill. Grid-stride loops over n elements.</summary>
internal static class CopyKernels
{
    /// <summary>dst[dl(i)] = src[sl(i)]; T is an unsigned integer of the element size (bits are copied).</summary>
    public static void Copy<T>(ArrayView<T> src, Strided sl, ArrayView<T> dst, Strided dl, long n) where T : unmanaged
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += step) dst[dl.At(i)] = src[sl.At(i)];
    }

    /// <summary>dst[dl(i)] = (dstType)src[sl(i)], through double.</summary>
    public static void Cast(ArrayView<byte> src, Strided sl, int srcType, ArrayView<byte> dst, Strided dl, int dstType, long n)
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += step)
            ElementBits.Store(dst, dstType, dl.At(i), ElementBits.Load(src, srcType, sl.At(i)));
    }

    /// <summary>dst[dl(i)] = value.</summary>
    public static void Fill<T>(ArrayView<T> dst, Strided dl, long n, T value) where T : unmanaged
    {
        long step = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += step) dst[dl.At(i)] = value;
    }
}
