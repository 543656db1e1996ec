using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PeftEngine.Cpu;

/// <summary>
/// Copies a block of A or B into the panel layout the micro-kernel reads (see <see cref="IGemmMicroKernel{T}"/>).
/// Packing is where strides and transposes are dealt with: whatever the source layout, the packed panel is
/// contiguous in the order the k loop consumes it, so the micro-kernel only ever sees unit-stride data.
/// </summary>
/// <remarks>
/// Both operands pack the same way. A panel of width w covers w rows of op(A) (w = MR) or w columns of op(B)
/// (w = NR) over kc steps of k: <c>dst[p * w + r] = src[r * sOuter + p * sInner]</c>. A ragged last panel
/// (fewer than w rows) is padded with zeros, so the micro-kernel always runs on full panels.
/// </remarks>
internal static unsafe class GemmPacking
{
    /// <summary>Packs a panel from a source stored as T, or (for an f32 panel) as bf16 or f16, widening each
    /// element to f32 on the way: a 16-bit operand is converted one panel at a time, never copied whole.</summary>
    public static void Panel<T>(GemmSource source, void* src, long sOuter, long sInner, int rows, int w, int kc, T* dst) where T : unmanaged
    {
        if (source == GemmSource.Native)
        {
            Panel((T*)src, sOuter, sInner, rows, w, kc, dst);
            return;
        }
        if (typeof(T) != typeof(float))
            throw new NotSupportedException($"Gemm: a {source} operand needs an f32 computation, not {typeof(T).Name}");
        PanelWiden(source, (ushort*)src, sOuter, sInner, rows, w, kc, (float*)dst);
    }

    /// <summary><see cref="Panel{T}(T*, long, long, int, int, int, T*)"/> for a 16-bit source: the same three
    /// layouts, with runs that are contiguous in the source widened by SIMD conversions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PanelWiden(GemmSource source, ushort* src, long sOuter, long sInner, int rows, int w, int kc, float* dst)
    {
        if (sOuter == 1 || rows == 1)
        {
            // Each step of k is one contiguous run of `rows` elements: widen it straight into the panel.
            for (int p = 0; p < kc; p++)
            {
                float* d = dst + p * w;
                Widen(source, src + p * sInner, d, rows);
                for (int r = rows; r < w; r++) d[r] = 0;
            }
        }
        else if (sInner == 1)
        {
            // Each line is contiguous along k: widen one line into a staging row, then spread it over the panel.
            float* line = stackalloc float[Math.Min(kc, 1024)];
            for (int r = 0; r < rows; r++)
            {
                ushort* s = src + r * sOuter;
                for (int p0 = 0; p0 < kc; p0 += 1024)
                {
                    int len = Math.Min(1024, kc - p0);
                    Widen(source, s + p0, line, len);
                    float* d = dst + (long)p0 * w + r;
                    for (int p = 0; p < len; p++, d += w) *d = line[p];
                }
            }
            ZeroTail(dst, rows, w, kc);
        }
        else
        {
            for (int p = 0; p < kc; p++)
            {
                ushort* s = src + p * sInner;
                float* d = dst + p * w;
                for (int r = 0; r < rows; r++) d[r] = WidenOne(source, s[r * sOuter]);
            }
            ZeroTail(dst, rows, w, kc);
        }
    }

    /// <summary>n contiguous bf16 or f16 values to f32 (exact).</summary>
    private static void Widen(GemmSource source, ushort* s, float* d, int n)
    {
        if (source == GemmSource.BF16) DTypeConversion.WidenFromBFloat16(s, d, n);
        else TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(s, n), new Span<float>(d, n));
    }

    private static float WidenOne(GemmSource source, ushort bits) =>
        source == GemmSource.BF16 ? BitConverter.UInt32BitsToSingle((uint)bits << 16) : (float)BitConverter.UInt16BitsToHalf(bits);

    /// <summary>Packs <paramref name="rows"/> (at most <paramref name="w"/>) lines of length kc.</summary>
    /// <param name="src">The first element of the panel in the source matrix.</param>
    /// <param name="sOuter">Element step between the lines of the panel (rows of A, columns of B).</param>
    /// <param name="sInner">Element step along k.</param>
    /// <param name="rows">Lines present in the source; lines rows..w are zero.</param>
    /// <param name="w">The panel width (MR or NR; for the outer form, its padded strip of B).</param>
    /// <param name="kc">Steps of k to pack.</param>
    /// <param name="dst">kc * w elements.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Panel<T>(T* src, long sOuter, long sInner, int rows, int w, int kc, T* dst) where T : unmanaged
    {
        if (sOuter == 1 || rows == 1)
        {
            // The panel's lines sit next to each other in memory (a row-major B, a column-major A):
            // each step of k is one contiguous run of `rows` elements.
            int run = rows * sizeof(T);
            for (int p = 0; p < kc; p++)
            {
                T* d = dst + p * w;
                CopyRun((byte*)(src + p * sInner), (byte*)d, run);
                for (int r = rows; r < w; r++) d[r] = default;
            }
        }
        else if (sInner == 1)
        {
            // Each line is contiguous along k (a row-major A, a transposed B): a transpose. f32 lines eight at a
            // time in 8 x 8 blocks through vector registers, then four at a time in 4 x 8 blocks; other types, and
            // the steps of k past the last whole block, element by element.
            int r = 0;
            if (typeof(T) == typeof(float) && Avx.IsSupported)
                for (; r + 8 <= rows; r += 8)
                {
                    T* s0 = src + r * sOuter;
                    int p = 0;
                    for (; p + 8 <= kc; p += 8)
                        Transpose8x8((float*)(s0 + p), sOuter, (float*)(dst + p * w + r), w);
                    for (; p < kc; p++)
                        for (int l = 0; l < 8; l++) dst[p * w + r + l] = s0[l * sOuter + p];
                }
            for (; r + 4 <= rows; r += 4)
            {
                T* s0 = src + r * sOuter;
                T* d = dst + r;
                int p = 0;
                if (typeof(T) == typeof(float) && Avx.IsSupported)
                    for (; p + 8 <= kc; p += 8)
                        Transpose4x8((float*)(s0 + p), sOuter, (float*)(d + p * w), w);
                T* s1 = s0 + sOuter, s2 = s1 + sOuter, s3 = s2 + sOuter;
                for (d += p * w; p < kc; p++, d += w)
                {
                    d[0] = s0[p];
                    d[1] = s1[p];
                    d[2] = s2[p];
                    d[3] = s3[p];
                }
            }
            for (; r < rows; r++)
            {
                T* s = src + r * sOuter;
                T* d = dst + r;
                for (int p = 0; p < kc; p++, d += w) *d = s[p];
            }
            ZeroTail(dst, rows, w, kc);
        }
        else
        {
            // Any other strides: gather element by element.
            for (int p = 0; p < kc; p++)
            {
                T* s = src + p * sInner;
                T* d = dst + p * w;
                for (int r = 0; r < rows; r++) d[r] = s[r * sOuter];
            }
            ZeroTail(dst, rows, w, kc);
        }
    }

    /// <summary>Copies <paramref name="bytes"/> bytes, a vector at a time (a panel row is 48 to 128 bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CopyRun(byte* s, byte* d, int bytes)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 64 <= bytes; i += 64) Vector512.Store(Vector512.Load(s + i), d + i);
        for (; i + 16 <= bytes; i += 16) Vector128.Store(Vector128.Load(s + i), d + i);
        for (; i < bytes; i++) d[i] = s[i];
    }

    /// <summary>
    /// Transposes 4 lines x 8 steps of k: reads s[l * stride + p] for lines l in 0..4 and p in 0..8, and writes each
    /// step's four values side by side, d[p * w + l]. Unpacking pairs of lines interleaves them
    /// (a0 b0 a1 b1 | a4 b4 a5 b5 ...); a second, 64-bit interleave of the two pairs then holds, in each 128-bit half,
    /// the four lines at one step.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose4x8(float* s, long stride, float* d, int w)
    {
        var l0 = Avx.LoadVector256(s);
        var l1 = Avx.LoadVector256(s + stride);
        var l2 = Avx.LoadVector256(s + 2 * stride);
        var l3 = Avx.LoadVector256(s + 3 * stride);
        var ab01 = Avx.UnpackLow(l0, l1).AsDouble();   // a0 b0 a1 b1 | a4 b4 a5 b5
        var ab23 = Avx.UnpackHigh(l0, l1).AsDouble();  // a2 b2 a3 b3 | a6 b6 a7 b7
        var cd01 = Avx.UnpackLow(l2, l3).AsDouble();   // c0 d0 c1 d1 | c4 d4 c5 d5
        var cd23 = Avx.UnpackHigh(l2, l3).AsDouble();  // c2 d2 c3 d3 | c6 d6 c7 d7
        var p04 = Avx.UnpackLow(ab01, cd01).AsSingle();   // a0 b0 c0 d0 | a4 b4 c4 d4
        var p15 = Avx.UnpackHigh(ab01, cd01).AsSingle();  // a1 b1 c1 d1 | a5 b5 c5 d5
        var p26 = Avx.UnpackLow(ab23, cd23).AsSingle();   // a2 .. d2 | a6 .. d6
        var p37 = Avx.UnpackHigh(ab23, cd23).AsSingle();  // a3 .. d3 | a7 .. d7
        Sse.Store(d, p04.GetLower());
        Sse.Store(d + w, p15.GetLower());
        Sse.Store(d + 2 * w, p26.GetLower());
        Sse.Store(d + 3 * w, p37.GetLower());
        Sse.Store(d + 4 * w, p04.GetUpper());
        Sse.Store(d + 5 * w, p15.GetUpper());
        Sse.Store(d + 6 * w, p26.GetUpper());
        Sse.Store(d + 7 * w, p37.GetUpper());
    }

    /// <summary>Eight runs of eight f32 (s + r·ls, r &lt; 8) to eight rows of eight (d + q·ld): d[q·ld + r] = s[r·ls + q].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Transpose8x8(float* s, long ls, float* d, long ld)
    {
        var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + ls);
        var r2 = Avx.LoadVector256(s + 2 * ls); var r3 = Avx.LoadVector256(s + 3 * ls);
        var r4 = Avx.LoadVector256(s + 4 * ls); var r5 = Avx.LoadVector256(s + 5 * ls);
        var r6 = Avx.LoadVector256(s + 6 * ls); var r7 = Avx.LoadVector256(s + 7 * ls);
        // pairs of rows interleaved: t0 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5], ...
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        // quadruples: u0 = column 0 of rows 0..3 | column 4 of rows 0..3, ...
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        // the halves of rows 0..3 and 4..7 joined: column q of all eight rows
        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + ld, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 2 * ld, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 3 * ld, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 4 * ld, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 5 * ld, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 6 * ld, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 7 * ld, Avx.Permute2x128(u3, u7, 0x31));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ZeroTail<T>(T* dst, int rows, int w, int kc) where T : unmanaged
    {
        if (rows == w) return;
        for (int p = 0; p < kc; p++)
            for (int r = rows; r < w; r++) dst[p * w + r] = default;
    }
}
