using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PeftEngine.IO.Gguf;

namespace PeftEngine.Quant;

/// <summary>Which instruction set the packed ggml dot products use.</summary>
public enum GgmlDotPath
{
    /// <summary>Plain scalar code (<see cref="GgmlBlockDotReference"/>).</summary>
    Scalar,

    /// <summary>AVX2: vpmaddubsw (u8 × s8 → s16 pairs) then vpmaddwd with ones (→ s32).</summary>
    Avx2,

    /// <summary>AVX-VNNI: vpdpbusd (u8 × s8, four products summed straight into s32).</summary>
    AvxVnni,
}

/// <summary>
/// SIMD dot products of packed ggml weight rows (Q8_0, Q4_0, Q4_K) with int8 activation blocks: each 32-byte run is
/// multiplied as int8 × int8 into eight int32 lanes, the lanes are converted to F32 and scaled by the block's
/// d_w · d_a into an F32 accumulator; the lanes are summed once at the end. Signed × signed products use the
/// unsigned × signed instructions through |w| · sign(q, w) = w · q. The integers equal those of
/// <see cref="GgmlBlockDotReference"/>; for Q8_0 and Q4_0 only the order of the F32 additions differs, and Q4_K
/// (whose 256-element superblocks make a per-superblock reduction cheap) gives the reference's float result exactly.
/// </summary>
/// <remarks>llama.cpp: the AVX2 / AVX-VNNI branches of ggml_vec_dot_q8_0_q8_0, ggml_vec_dot_q4_0_q8_0 and
/// ggml_vec_dot_q4_K_q8_K. .NET 10 exposes VNNI only in its 256-bit VEX form (AvxVnni), which Zen 4/5 and recent
/// Intel cores have.</remarks>
public static unsafe class GgmlBlockDot
{
    /// <summary>The best path this CPU supports (the one the products use).</summary>
    public static GgmlDotPath Best { get; } =
        AvxVnni.IsSupported && Avx2.IsSupported ? GgmlDotPath.AvxVnni : Avx2.IsSupported ? GgmlDotPath.Avx2 : GgmlDotPath.Scalar;

    /// <summary>Dot product of packed row <paramref name="w"/> (cols / blockSize blocks of <paramref name="type"/>) with
    /// activation codes <paramref name="q"/>, their scales and 32-element sums.</summary>
    internal static float Dot(GgmlType type, byte* w, sbyte* q, float* scales, int* sums, int cols) =>
        Dot(type, w, q, scales, sums, cols, Best);

    /// <summary>As above on a chosen path (a path the CPU lacks falls back to the next one down).</summary>
    internal static float Dot(GgmlType type, byte* w, sbyte* q, float* scales, int* sums, int cols, GgmlDotPath path)
    {
        if (path == GgmlDotPath.AvxVnni && !AvxVnni.IsSupported) path = GgmlDotPath.Avx2;
        if (path != GgmlDotPath.Scalar && !Avx2.IsSupported) path = GgmlDotPath.Scalar;
        bool vnni = path == GgmlDotPath.AvxVnni;
        fixed (float* half = HalfTable.Values)
        {
            if (path == GgmlDotPath.Scalar) return ScalarDot(type, w, q, scales, sums, cols, half);
            return type switch
            {
                GgmlType.Q8_0 => DotQ8_0(w, q, scales, cols / 32, half, vnni),
                GgmlType.Q4_0 => DotQ4_0(w, q, scales, cols / 32, half, vnni),
                GgmlType.Q4_K => DotQ4_K(w, q, scales, sums, cols / 256, half, vnni),
                _ => throw new NotSupportedException($"GgmlBlockDot: {type} is not a packable type"),
            };
        }
    }

    /// <summary>Σ w·q over 32 signed bytes, as eight int32 partial sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SignedDot(Vector256<sbyte> w, Vector256<sbyte> q, bool vnni)
    {
        var absW = Avx2.Abs(w);            // |w| as unsigned bytes (|−128| = 128 fits)
        var signedQ = Avx2.Sign(q, w);     // q · sign(w), so |w| · (q · sign(w)) = w · q
        return UnsignedDot(absW, signedQ, vnni);
    }

    /// <summary>Σ u·q over 32 unsigned × signed bytes, as eight int32 partial sums (|u·q| pairs stay below 2¹⁵).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> UnsignedDot(Vector256<byte> u, Vector256<sbyte> q, bool vnni)
    {
        if (vnni) return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, q);
        var pairs = Avx2.MultiplyAddAdjacent(u, q);                        // 16 × s16
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1)); // 8 × s32
    }

    private static float DotQ8_0(byte* w, sbyte* q, float* scales, int nb, float* half, bool vnni)
    {
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < nb; b++, w += 34, q += 32)
        {
            var isum = SignedDot(Vector256.Load((sbyte*)(w + 2)), Vector256.Load(q), vnni);
            float s = half[*(ushort*)w] * scales[b];
            acc = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(isum), Vector256.Create(s), acc);
        }
        return Vector256.Sum(acc);
    }

    private static float DotQ4_0(byte* w, sbyte* q, float* scales, int nb, float* half, bool vnni)
    {
        var acc = Vector256<float>.Zero;
        var low = Vector128.Create((byte)0x0F);
        var eight = Vector256.Create((sbyte)8);
        for (int b = 0; b < nb; b++, w += 18, q += 32)
        {
            var raw = Vector128.Load(w + 2);
            // byte j holds element j (low nibble) and element j + 16 (high nibble): 32 codes in element order, minus 8
            var codes = Vector256.Create(raw & low, Vector128.ShiftRightLogical(raw, 4) & low).AsSByte() - eight;
            var isum = SignedDot(codes, Vector256.Load(q), vnni);
            float s = half[*(ushort*)w] * scales[b];
            acc = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(isum), Vector256.Create(s), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <remarks>Per superblock: the eight scales and mins are unpacked together (<see cref="Q4KScales"/>) and widened
    /// to int32 lanes; Σ m_s · Σq_s is one vector product, and the superblock's integer sum is reduced before its float
    /// scales are applied, so the result is bit-identical to <see cref="GgmlBlockDotReference"/>.</remarks>
    private static float DotQ4_K(byte* w, sbyte* q, float* scales, int* sums, int nb, float* half, bool vnni)
    {
        var low = Vector256.Create((byte)0x0F);
        float total = 0;
        for (int b = 0; b < nb; b++, w += 144, q += 256, sums += 8)
        {
            Q4KScales.Unpack(w + 4, out ulong packedScales, out ulong packedMins);
            var sc = Avx2.ConvertToVector256Int32(Vector128.CreateScalar(packedScales).AsByte());   // 8 bytes -> 8 × s32
            var mins = Avx2.ConvertToVector256Int32(Vector128.CreateScalar(packedMins).AsByte());
            int msum = Vector256.Sum(mins * Vector256.Load(sums));
            var isum = Vector256<int>.Zero;
            for (int chunk = 0; chunk < 4; chunk++)   // 64 elements: low nibbles = sub-block 2c, high = 2c + 1
            {
                var raw = Vector256.Load(w + 16 + 32 * chunk);
                var lo = UnsignedDot(raw & low, Vector256.Load(q + 64 * chunk), vnni);
                var hi = UnsignedDot(Vector256.ShiftRightLogical(raw, 4) & low, Vector256.Load(q + 64 * chunk + 32), vnni);
                isum += lo * Avx2.PermuteVar8x32(sc, Vector256.Create(2 * chunk))          // scale 2c in every lane
                      + hi * Avx2.PermuteVar8x32(sc, Vector256.Create(2 * chunk + 1));
            }
            total += Vector256.Sum(isum) * (half[*(ushort*)w] * scales[b]) - msum * (half[*(ushort*)(w + 2)] * scales[b]);
        }
        return total;
    }

    private static float ScalarDot(GgmlType type, byte* w, sbyte* q, float* scales, int* sums, int cols, float* half)
    {
        (int size, int bytes) = GgmlPackedWeight.Geometry(type);
        float total = 0;
        for (int b = 0; b < cols / size; b++, w += bytes, q += size)
        {
            int isum = 0, msum = 0;
            if (type == GgmlType.Q8_0)
                for (int i = 0; i < 32; i++) isum += (sbyte)w[2 + i] * q[i];
            else if (type == GgmlType.Q4_0)
                for (int j = 0; j < 16; j++) isum += ((w[2 + j] & 0xF) - 8) * q[j] + ((w[2 + j] >> 4) - 8) * q[j + 16];
            else
            {
                var packedScales = new ReadOnlySpan<byte>(w + 4, 12);
                for (int s = 0; s < 8; s++)
                {
                    var (sc, m) = GgmlKQuants.ScaleMin(s, packedScales);
                    int shift = 4 * (s & 1), part = 0;
                    byte* qs = w + 16 + 32 * (s >> 1);
                    for (int l = 0; l < 32; l++) part += ((qs[l] >> shift) & 0xF) * q[32 * s + l];
                    isum += sc * part;
                    msum += m * sums[b * 8 + s];
                }
            }
            if (type == GgmlType.Q4_K) total += isum * (half[*(ushort*)w] * scales[b]) - msum * (half[*(ushort*)(w + 2)] * scales[b]);
            else total += isum * (half[*(ushort*)w] * scales[b]);
        }
        return total;
    }
}
