using System.Numerics.Tensors;

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
    /// <param name="w">The panel width (MR or NR).</param>
    /// <param name="kc">Steps of k to pack.</param>
    /// <param name="dst">kc * w elements.</param>
    public static void Panel<T>(T* src, long sOuter, long sInner, int rows, int w, int kc, T* dst) where T : unmanaged
    {
        if (sOuter == 1 || rows == 1)
        {
            // The panel's lines sit next to each other in memory (a row-major B, a column-major A):
            // each step of k is one contiguous run of `rows` elements.
            long run = (long)rows * sizeof(T);
            for (int p = 0; p < kc; p++)
            {
                T* d = dst + p * w;
                Buffer.MemoryCopy(src + p * sInner, d, run, run);
                for (int r = rows; r < w; r++) d[r] = default;
            }
        }
        else if (sInner == 1)
        {
            // Each line is contiguous along k (a row-major A, a transposed B): take four lines at a time and
            // interleave them, so reads run along four lines and each write fills four neighbours.
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                T* s0 = src + r * sOuter, s1 = s0 + sOuter, s2 = s1 + sOuter, s3 = s2 + sOuter;
                T* d = dst + r;
                for (int p = 0; p < kc; p++, d += w)
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

    private static void ZeroTail<T>(T* dst, int rows, int w, int kc) where T : unmanaged
    {
        if (rows == w) return;
        for (int p = 0; p < kc; p++)
            for (int r = rows; r < w; r++) dst[p * w + r] = default;
    }
}
