using System.Numerics;
using System.Runtime.CompilerServices;

namespace PeftEngine.Cpu;

/// <summary>
/// A register-blocked GEMM micro-kernel: it multiplies a packed MR x kc panel of A by a packed kc x NR panel of
/// B, keeping the whole MR x NR block of C in vector registers for the length of the k loop, and only then
/// writes it to C: <c>c = alpha * (a · b) + beta * c + bias</c> (c is not read when beta is 0; bias, when not null, is
/// the NR-element row added to every row, so a Linear layer's bias costs no pass of its own over C).
/// </summary>
/// <remarks>
/// Packed layouts (see <see cref="GemmPacking"/>): the A panel holds, for each p in 0..kc, the MR values
/// A[0..MR, p] one after another; the B panel holds, for each p, the NR values B[p, 0..NR]. Each step of the
/// k loop is then one rank-1 update: two vector loads of B, MR broadcasts of A, 2·MR fused multiply-adds.
/// Each element's sum runs over p in order, so its rounding depends only on the shapes.
/// </remarks>
internal unsafe interface IGemmMicroKernel<T> where T : unmanaged
{
    /// <summary>Rows of C per call.</summary>
    static abstract int MR { get; }

    /// <summary>Columns of C per call.</summary>
    static abstract int NR { get; }

    /// <summary>True when the vector width it uses runs natively on this CPU.</summary>
    static abstract bool IsAccelerated { get; }

    /// <summary>c[0..MR, 0..NR] (row stride ldc) = alpha * a-panel · b-panel + beta * c + bias (null: none).
    /// With <paramref name="stream"/> (only when beta is 0 and every row of c is aligned to 64 bytes) c is written
    /// with non-temporal stores, which skip reading its lines into the cache first.</summary>
    static abstract void Run(int kc, T* a, T* b, T* c, long ldc, T alpha, T beta, T* bias, bool stream);
}

/// <summary>
/// 12 rows x 2 vectors (12 x 32 floats, 12 x 16 doubles with AVX-512): 24 accumulators, 2 B vectors and one
/// broadcast fill 27 of the 32 AVX-512 registers.
/// </summary>
internal readonly unsafe struct GemmKernel12<TOps, TV, T> : IGemmMicroKernel<T>
    where TOps : IGemmVector<TV, T>
    where TV : struct
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 12;
    public static int NR => 2 * TOps.Count;
    public static bool IsAccelerated => TOps.IsAccelerated;

    /// <summary>The 12-row kernel: 12 x 2 vectors of accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, T* a, T* b, T* c, long ldc, T alpha, T beta, T* bias, bool stream)
    {
        int w = TOps.Count;
        TV r0x = TOps.Zero, r0y = TOps.Zero, r1x = TOps.Zero, r1y = TOps.Zero, r2x = TOps.Zero, r2y = TOps.Zero;
        TV r3x = TOps.Zero, r3y = TOps.Zero, r4x = TOps.Zero, r4y = TOps.Zero, r5x = TOps.Zero, r5y = TOps.Zero;
        TV r6x = TOps.Zero, r6y = TOps.Zero, r7x = TOps.Zero, r7y = TOps.Zero, r8x = TOps.Zero, r8y = TOps.Zero;
        TV r9x = TOps.Zero, r9y = TOps.Zero, r10x = TOps.Zero, r10y = TOps.Zero, r11x = TOps.Zero, r11y = TOps.Zero;
        for (int p = 0; p < kc; p++)
        {
            // One rank-1 update: column p of the A panel times row p of the B panel.
            TV bx = TOps.Load(b), by = TOps.Load(b + w);
            TV s;
            s = TOps.Splat(a[0]); r0x = TOps.MulAdd(s, bx, r0x); r0y = TOps.MulAdd(s, by, r0y);
            s = TOps.Splat(a[1]); r1x = TOps.MulAdd(s, bx, r1x); r1y = TOps.MulAdd(s, by, r1y);
            s = TOps.Splat(a[2]); r2x = TOps.MulAdd(s, bx, r2x); r2y = TOps.MulAdd(s, by, r2y);
            s = TOps.Splat(a[3]); r3x = TOps.MulAdd(s, bx, r3x); r3y = TOps.MulAdd(s, by, r3y);
            s = TOps.Splat(a[4]); r4x = TOps.MulAdd(s, bx, r4x); r4y = TOps.MulAdd(s, by, r4y);
            s = TOps.Splat(a[5]); r5x = TOps.MulAdd(s, bx, r5x); r5y = TOps.MulAdd(s, by, r5y);
            s = TOps.Splat(a[6]); r6x = TOps.MulAdd(s, bx, r6x); r6y = TOps.MulAdd(s, by, r6y);
            s = TOps.Splat(a[7]); r7x = TOps.MulAdd(s, bx, r7x); r7y = TOps.MulAdd(s, by, r7y);
            s = TOps.Splat(a[8]); r8x = TOps.MulAdd(s, bx, r8x); r8y = TOps.MulAdd(s, by, r8y);
            s = TOps.Splat(a[9]); r9x = TOps.MulAdd(s, bx, r9x); r9y = TOps.MulAdd(s, by, r9y);
            s = TOps.Splat(a[10]); r10x = TOps.MulAdd(s, bx, r10x); r10y = TOps.MulAdd(s, by, r10y);
            s = TOps.Splat(a[11]); r11x = TOps.MulAdd(s, bx, r11x); r11y = TOps.MulAdd(s, by, r11y);
            a += 12;
            b += 2 * w;
        }
        var st = new GemmStore<TOps, TV, T>(alpha, beta, bias, stream: stream);
        st.Row(c, r0x, r0y);
        st.Row(c + 1 * ldc, r1x, r1y);
        st.Row(c + 2 * ldc, r2x, r2y);
        st.Row(c + 3 * ldc, r3x, r3y);
        st.Row(c + 4 * ldc, r4x, r4y);
        st.Row(c + 5 * ldc, r5x, r5y);
        st.Row(c + 6 * ldc, r6x, r6y);
        st.Row(c + 7 * ldc, r7x, r7y);
        st.Row(c + 8 * ldc, r8x, r8y);
        st.Row(c + 9 * ldc, r9x, r9y);
        st.Row(c + 10 * ldc, r10x, r10y);
        st.Row(c + 11 * ldc, r11x, r11y);
    }
}

/// <summary>
/// 24 rows x 1 vector (24 x 16 floats with AVX-512): for C with at most one vector's width of columns (the
/// gradient of a LoRA factor, dB = dyᵀ · h with n = rank), where a 2-vector-wide kernel would leave most of its
/// lanes on zero padding. 24 accumulators, one B vector and one broadcast.
/// </summary>
internal readonly unsafe struct GemmKernel24<TOps, TV, T> : IGemmMicroKernel<T>
    where TOps : IGemmVector<TV, T>
    where TV : struct
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 24;
    public static int NR => TOps.Count;
    public static bool IsAccelerated => TOps.IsAccelerated;

    /// <summary>The 24-row kernel: 24 x 1 vector of accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, T* a, T* b, T* c, long ldc, T alpha, T beta, T* bias, bool stream)
    {
        TV r0 = TOps.Zero, r1 = TOps.Zero, r2 = TOps.Zero, r3 = TOps.Zero, r4 = TOps.Zero, r5 = TOps.Zero;
        TV r6 = TOps.Zero, r7 = TOps.Zero, r8 = TOps.Zero, r9 = TOps.Zero, r10 = TOps.Zero, r11 = TOps.Zero;
        TV r12 = TOps.Zero, r13 = TOps.Zero, r14 = TOps.Zero, r15 = TOps.Zero, r16 = TOps.Zero, r17 = TOps.Zero;
        TV r18 = TOps.Zero, r19 = TOps.Zero, r20 = TOps.Zero, r21 = TOps.Zero, r22 = TOps.Zero, r23 = TOps.Zero;
        for (int p = 0; p < kc; p++)
        {
            // One rank-1 update: column p of the A panel times row p of the B panel.
            TV x = TOps.Load(b);
            r0 = TOps.MulAdd(TOps.Splat(a[0]), x, r0); r1 = TOps.MulAdd(TOps.Splat(a[1]), x, r1);
            r2 = TOps.MulAdd(TOps.Splat(a[2]), x, r2); r3 = TOps.MulAdd(TOps.Splat(a[3]), x, r3);
            r4 = TOps.MulAdd(TOps.Splat(a[4]), x, r4); r5 = TOps.MulAdd(TOps.Splat(a[5]), x, r5);
            r6 = TOps.MulAdd(TOps.Splat(a[6]), x, r6); r7 = TOps.MulAdd(TOps.Splat(a[7]), x, r7);
            r8 = TOps.MulAdd(TOps.Splat(a[8]), x, r8); r9 = TOps.MulAdd(TOps.Splat(a[9]), x, r9);
            r10 = TOps.MulAdd(TOps.Splat(a[10]), x, r10); r11 = TOps.MulAdd(TOps.Splat(a[11]), x, r11);
            r12 = TOps.MulAdd(TOps.Splat(a[12]), x, r12); r13 = TOps.MulAdd(TOps.Splat(a[13]), x, r13);
            r14 = TOps.MulAdd(TOps.Splat(a[14]), x, r14); r15 = TOps.MulAdd(TOps.Splat(a[15]), x, r15);
            r16 = TOps.MulAdd(TOps.Splat(a[16]), x, r16); r17 = TOps.MulAdd(TOps.Splat(a[17]), x, r17);
            r18 = TOps.MulAdd(TOps.Splat(a[18]), x, r18); r19 = TOps.MulAdd(TOps.Splat(a[19]), x, r19);
            r20 = TOps.MulAdd(TOps.Splat(a[20]), x, r20); r21 = TOps.MulAdd(TOps.Splat(a[21]), x, r21);
            r22 = TOps.MulAdd(TOps.Splat(a[22]), x, r22); r23 = TOps.MulAdd(TOps.Splat(a[23]), x, r23);
            a += 24;
            b += TOps.Count;
        }
        var st = new GemmStore<TOps, TV, T>(alpha, beta, bias, vectors: 1, stream: stream);
        st.Row(c, r0); st.Row(c + ldc, r1); st.Row(c + 2 * ldc, r2); st.Row(c + 3 * ldc, r3);
        st.Row(c + 4 * ldc, r4); st.Row(c + 5 * ldc, r5); st.Row(c + 6 * ldc, r6); st.Row(c + 7 * ldc, r7);
        st.Row(c + 8 * ldc, r8); st.Row(c + 9 * ldc, r9); st.Row(c + 10 * ldc, r10); st.Row(c + 11 * ldc, r11);
        st.Row(c + 12 * ldc, r12); st.Row(c + 13 * ldc, r13); st.Row(c + 14 * ldc, r14); st.Row(c + 15 * ldc, r15);
        st.Row(c + 16 * ldc, r16); st.Row(c + 17 * ldc, r17); st.Row(c + 18 * ldc, r18); st.Row(c + 19 * ldc, r19);
        st.Row(c + 20 * ldc, r20); st.Row(c + 21 * ldc, r21); st.Row(c + 22 * ldc, r22); st.Row(c + 23 * ldc, r23);
    }
}

/// <summary>
/// 6 rows x 2 vectors (6 x 16 floats with AVX2): 12 accumulators, 2 B vectors and one broadcast fit the 16
/// registers of AVX2 or SSE.
/// </summary>
internal readonly unsafe struct GemmKernel6<TOps, TV, T> : IGemmMicroKernel<T>
    where TOps : IGemmVector<TV, T>
    where TV : struct
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 6;
    public static int NR => 2 * TOps.Count;
    public static bool IsAccelerated => TOps.IsAccelerated;

    /// <summary>The 6-row kernel: 6 x 2 vectors of accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, T* a, T* b, T* c, long ldc, T alpha, T beta, T* bias, bool stream)
    {
        int w = TOps.Count;
        TV r0x = TOps.Zero, r0y = TOps.Zero, r1x = TOps.Zero, r1y = TOps.Zero, r2x = TOps.Zero, r2y = TOps.Zero;
        TV r3x = TOps.Zero, r3y = TOps.Zero, r4x = TOps.Zero, r4y = TOps.Zero, r5x = TOps.Zero, r5y = TOps.Zero;
        for (int p = 0; p < kc; p++)
        {
            // One rank-1 update: column p of the A panel times row p of the B panel.
            TV bx = TOps.Load(b), by = TOps.Load(b + w);
            TV s;
            s = TOps.Splat(a[0]); r0x = TOps.MulAdd(s, bx, r0x); r0y = TOps.MulAdd(s, by, r0y);
            s = TOps.Splat(a[1]); r1x = TOps.MulAdd(s, bx, r1x); r1y = TOps.MulAdd(s, by, r1y);
            s = TOps.Splat(a[2]); r2x = TOps.MulAdd(s, bx, r2x); r2y = TOps.MulAdd(s, by, r2y);
            s = TOps.Splat(a[3]); r3x = TOps.MulAdd(s, bx, r3x); r3y = TOps.MulAdd(s, by, r3y);
            s = TOps.Splat(a[4]); r4x = TOps.MulAdd(s, bx, r4x); r4y = TOps.MulAdd(s, by, r4y);
            s = TOps.Splat(a[5]); r5x = TOps.MulAdd(s, bx, r5x); r5y = TOps.MulAdd(s, by, r5y);
            a += 6;
            b += 2 * w;
        }
        var st = new GemmStore<TOps, TV, T>(alpha, beta, bias, stream: stream);
        st.Row(c, r0x, r0y);
        st.Row(c + 1 * ldc, r1x, r1y);
        st.Row(c + 2 * ldc, r2x, r2y);
        st.Row(c + 3 * ldc, r3x, r3y);
        st.Row(c + 4 * ldc, r4x, r4y);
        st.Row(c + 5 * ldc, r5x, r5y);
    }
}

/// <summary>Writes one row of two accumulator vectors to C as alpha * acc + beta * c + bias. With no bias the
/// bias vectors are zero, and adding them changes no value. A streaming store (beta 0 only) writes the same values
/// with non-temporal stores.</summary>
internal readonly unsafe struct GemmStore<TOps, TV, T>
    where TOps : IGemmVector<TV, T>
    where TV : struct
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly TV _alpha, _beta, _biasX, _biasY;
    private readonly int _mode; // 0: beta == 0 (C not read), 1: beta == 1, 2: any other beta, 3: beta == 0, streamed

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public GemmStore(T alpha, T beta, T* bias, int vectors = 2, bool stream = false)
    {
        _alpha = TOps.Splat(alpha);
        _beta = TOps.Splat(beta);
        _biasX = bias == null ? TOps.Zero : TOps.Load(bias);
        _biasY = bias == null || vectors < 2 ? TOps.Zero : TOps.Load(bias + TOps.Count);
        _mode = beta == T.Zero ? (stream ? 3 : 0) : beta == T.One ? 1 : 2;
    }

    /// <summary>One row of one vector (the 1-vector-wide kernels).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Row(T* c, TV x)
    {
        if (_mode == 0) TOps.Store(c, TOps.MulAdd(x, _alpha, _biasX));
        else if (_mode == 3) TOps.StoreStream(c, TOps.MulAdd(x, _alpha, _biasX));
        else if (_mode == 1) TOps.Store(c, TOps.MulAdd(x, _alpha, TOps.Add(TOps.Load(c), _biasX)));
        else TOps.Store(c, TOps.MulAdd(x, _alpha, TOps.MulAdd(TOps.Load(c), _beta, _biasX)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Row(T* c, TV x, TV y)
    {
        T* c2 = c + TOps.Count;
        if (_mode == 0)
        {
            TOps.Store(c, TOps.MulAdd(x, _alpha, _biasX));
            TOps.Store(c2, TOps.MulAdd(y, _alpha, _biasY));
        }
        else if (_mode == 3)
        {
            TOps.StoreStream(c, TOps.MulAdd(x, _alpha, _biasX));
            TOps.StoreStream(c2, TOps.MulAdd(y, _alpha, _biasY));
        }
        else if (_mode == 1)
        {
            TOps.Store(c, TOps.MulAdd(x, _alpha, TOps.Add(TOps.Load(c), _biasX)));
            TOps.Store(c2, TOps.MulAdd(y, _alpha, TOps.Add(TOps.Load(c2), _biasY)));
        }
        else
        {
            TOps.Store(c, TOps.MulAdd(x, _alpha, TOps.MulAdd(TOps.Load(c), _beta, _biasX)));
            TOps.Store(c2, TOps.MulAdd(y, _alpha, TOps.MulAdd(TOps.Load(c2), _beta, _biasY)));
        }
    }
}
