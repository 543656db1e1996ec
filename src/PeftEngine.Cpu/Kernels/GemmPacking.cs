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
            // Each line is contiguous along k (a row-major A, a transposed B): read lines, write with step w.
            for (int r = 0; r < rows; r++)
            {
                T* s = src + r * sOuter;
                T* d = dst + r;
                int p = 0;
                for (; p + 4 <= kc; p += 4)
                {
                    d[0] = s[p];
                    d[w] = s[p + 1];
                    d[2 * w] = s[p + 2];
                    d[3 * w] = s[p + 3];
                    d += 4 * w;
                }
                for (; p < kc; p++, d += w) *d = s[p];
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
