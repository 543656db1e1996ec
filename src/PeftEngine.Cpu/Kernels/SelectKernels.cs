using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PeftEngine.Cpu;

/// <summary>
/// SIMD rows for <see cref="IBackend.Where"/> and <see cref="IBackend.Compare"/>. Both convert between
/// one-byte masks and masks as wide as the elements: Where widens a vector of condition bytes into
/// element-wide lane masks (sign extension keeps 0xFF as all ones), Compare narrows element-wide comparison
/// masks back into bytes.
/// </summary>
internal static class SelectKernels
{
    /// <summary>y[i] = c[i] != 0 ? a[i] : b[i]. T is the unsigned integer of the element size: elements are
    /// moved as bits, so one kernel serves every dtype of that size.</summary>
    public static void Where<T>(ReadOnlySpan<byte> c, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged
    {
        int n = y.Length, i = 0;
        int block = Vector<byte>.Count;   // elements per step: one vector of condition bytes
        int lanes = Vector<T>.Count, parts = block / lanes;
        ref byte cr = ref MemoryMarshal.GetReference(c);
        ref T ar = ref MemoryMarshal.GetReference(a), br = ref MemoryMarshal.GetReference(b), yr = ref MemoryMarshal.GetReference(y);
        Span<Vector<T>> masks = stackalloc Vector<T>[8];
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= n - block; i += block)
            {
                // all ones in the bytes where the condition is false
                var isFalse = Vector.Equals(Vector.LoadUnsafe(ref cr, (nuint)i), Vector<byte>.Zero).As<byte, sbyte>();
                Widen(isFalse, masks);
                for (int p = 0; p < parts; p++)
                {
                    nuint at = (nuint)(i + p * lanes);
                    Vector.ConditionalSelect(masks[p], Vector.LoadUnsafe(ref br, at), Vector.LoadUnsafe(ref ar, at)).StoreUnsafe(ref yr, at);
                }
            }
        }
        for (; i < n; i++) y[i] = c[i] != 0 ? a[i] : b[i];
    }

    /// <summary>y[i] = (a[i] ⋈ b[i]) ? 1 : 0.</summary>
    public static void Compare<T>(CompareOp op, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<byte> y) where T : unmanaged, INumber<T>
    {
        int n = y.Length, i = 0;
        int block = Vector<byte>.Count;
        int lanes = Vector<T>.Count, parts = block / lanes;
        ref T ar = ref MemoryMarshal.GetReference(a), br = ref MemoryMarshal.GetReference(b);
        ref byte yr = ref MemoryMarshal.GetReference(y);
        Span<Vector<T>> masks = stackalloc Vector<T>[8];
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= n - block; i += block)
            {
                for (int p = 0; p < parts; p++)
                {
                    nuint at = (nuint)(i + p * lanes);
                    masks[p] = Mask(op, Vector.LoadUnsafe(ref ar, at), Vector.LoadUnsafe(ref br, at));
                }
                (Narrow(masks) & Vector<byte>.One).StoreUnsafe(ref yr, (nuint)i);
            }
        }
        for (; i < n; i++) y[i] = Scalar(op, a[i], b[i]) ? (byte)1 : (byte)0;
    }

    private static Vector<T> Mask<T>(CompareOp op, Vector<T> a, Vector<T> b) where T : unmanaged, INumber<T> => op switch
    {
        CompareOp.Eq => Vector.Equals(a, b),
        CompareOp.Ne => ~Vector.Equals(a, b),   // true for NaN, as IEEE 754 says
        CompareOp.Lt => Vector.LessThan(a, b),
        CompareOp.Le => Vector.LessThanOrEqual(a, b),
        CompareOp.Gt => Vector.GreaterThan(a, b),
        CompareOp.Ge => Vector.GreaterThanOrEqual(a, b),
        _ => throw new NotSupportedException($"comparison {op}"),
    };

    private static bool Scalar<T>(CompareOp op, T a, T b) where T : unmanaged, INumber<T> => op switch
    {
        CompareOp.Eq => a == b,
        CompareOp.Ne => a != b,
        CompareOp.Lt => a < b,
        CompareOp.Le => a <= b,
        CompareOp.Gt => a > b,
        CompareOp.Ge => a >= b,
        _ => throw new NotSupportedException($"comparison {op}"),
    };

    /// <summary>Spreads a byte mask over sizeof(T) vectors of T-wide lanes, in element order.</summary>
    private static void Widen<T>(Vector<sbyte> m, Span<Vector<T>> masks) where T : unmanaged
    {
        int size = Unsafe.SizeOf<T>();
        if (size == 1) { masks[0] = m.As<sbyte, T>(); return; }
        Vector.Widen(m, out Vector<short> s0, out Vector<short> s1);
        if (size == 2) { masks[0] = s0.As<short, T>(); masks[1] = s1.As<short, T>(); return; }
        Span<Vector<int>> w = [default, default, default, default];
        Vector.Widen(s0, out w[0], out w[1]);
        Vector.Widen(s1, out w[2], out w[3]);
        for (int k = 0; k < 4; k++)
        {
            if (size == 4) { masks[k] = w[k].As<int, T>(); continue; }
            Vector.Widen(w[k], out Vector<long> lo, out Vector<long> hi);
            masks[2 * k] = lo.As<long, T>();
            masks[2 * k + 1] = hi.As<long, T>();
        }
    }

    /// <summary>Packs sizeof(T) vectors of T-wide lane masks into one vector of byte masks, in element order.</summary>
    private static Vector<byte> Narrow<T>(ReadOnlySpan<Vector<T>> masks) where T : unmanaged
    {
        int size = Unsafe.SizeOf<T>();
        if (size == 1) return masks[0].As<T, byte>();
        Span<Vector<ushort>> h = [default, default];
        if (size == 2) { h[0] = masks[0].As<T, ushort>(); h[1] = masks[1].As<T, ushort>(); }
        else
        {
            Span<Vector<uint>> w = [default, default, default, default];
            for (int k = 0; k < 4; k++)
                w[k] = size == 4 ? masks[k].As<T, uint>() : Vector.Narrow(masks[2 * k].As<T, ulong>(), masks[2 * k + 1].As<T, ulong>());
            h[0] = Vector.Narrow(w[0], w[1]);
            h[1] = Vector.Narrow(w[2], w[3]);
        }
        return Vector.Narrow(h[0], h[1]);
    }
}
