using System.Numerics;
using ILGPU;

namespace PeftEngine.Gpu.Kernels;

/// <summary>
/// Reductions across the threads of one group through shared memory, as a fixed binary tree: the result depends
/// only on the group size, never on timing. Every thread of the group must call them (they contain barriers);
/// every thread gets the result.
/// </summary>
internal static class GroupMath
{
    /// <summary>The largest group size the kernels allocate shared memory for.</summary>
    public const int MaxGroupSize = 256;

    /// <summary>Σ over the group of <paramref name="v"/>.</summary>
    public static T Sum<T>(T v, ArrayView<T> shared) where T : unmanaged, INumber<T>
    {
        int t = Group.IdxX;
        shared[t] = v;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (t < s) shared[t] = shared[t] + shared[t + s];
            Group.Barrier();
        }
        T r = shared[0];
        Group.Barrier();
        return r;
    }

    /// <summary>max over the group (NaN wins, as in the reference reductions).</summary>
    public static T Max<T>(T v, ArrayView<T> shared) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int t = Group.IdxX;
        shared[t] = v;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (t < s)
            {
                T a = shared[t], b = shared[t + s];
                if (T.IsNaN(b) || b > a) shared[t] = b;
            }
            Group.Barrier();
        }
        T r = shared[0];
        Group.Barrier();
        return r;
    }
}
