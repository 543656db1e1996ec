namespace PeftEngine.Cpu;

/// <summary>
/// Forms the explicit matrix <c>Q = H_0·H_1·…·H_{k-1}·[I_k; 0]</c> (rows × k) from k Householder reflectors
/// H_i = I - τ_i·v_i·v_iᵀ, where v_i has zeros above row i, a 1 at row i and its tail stored below the diagonal
/// of column i of a matrix V. Blocked with the compact WY form: the product of a block of reflectors is
/// <c>I - V_b·T·V_bᵀ</c> with T upper triangular, so applying the block to the columns already formed costs three
/// GEMMs (W = V_bᵀ·Q, W = T·W, Q -= V_b·W) instead of one rank-1 update per reflector.
/// </summary>
/// <remarks>LAPACK: dorgqr (+ dlarft, dlarfb). Used for the Q and P of the Golub–Kahan SVD.</remarks>
internal static unsafe class BlockReflector
{
    private const int Block = 32;

    /// <param name="v">Element (r, i) of V at v + r·rowStride + i·colStride (r ≥ i + 1 read).</param>
    /// <param name="rowStride">Element stride between rows of V.</param>
    /// <param name="colStride">Element stride between columns of V.</param>
    /// <param name="rows">Rows of Q.</param>
    /// <param name="k">Reflectors, and columns of Q (k ≤ rows).</param>
    /// <param name="tau">The k scales.</param>
    /// <param name="q">Output, rows × k row-major.</param>
    public static void FormQ(double* v, long rowStride, long colStride, int rows, int k, double* tau, double* q)
    {
        new Span<double>(q, checked(rows * k)).Clear();
        for (int i = 0; i < k; i++) q[(long)i * k + i] = 1;
        int last = k == 0 ? 0 : (k - 1) / Block * Block;
        var vb = new double[(long)rows * Block];
        var t = new double[Block * Block];
        var g = new double[Block * Block];
        var work = new double[(long)Block * k];
        fixed (double* pvb = vb, pt = t, pg = g, pw = work)
        {
            for (int b0 = last; b0 >= 0; b0 -= Block)
            {
                int w = Math.Min(Block, k - b0), len = rows - b0, cols = k - b0;
                // V_b (len × w): unit lower trapezoidal
                for (int r = 0; r < len; r++)
                    for (int i = 0; i < w; i++)
                        pvb[(long)r * w + i] = r == i ? 1 : r > i ? v[(b0 + r) * rowStride + (b0 + i) * colStride] : 0;
                BuildT(pvb, len, w, tau + b0, pt, pg);
                double* qs = q + (long)b0 * k + b0;
                // W = V_bᵀ · Q(b0:rows, b0:k)      (w × cols)
                Gemm<double>.Run(new GemmArgs<double>
                {
                    A = pvb, RowStrideA = 1, ColStrideA = w, B = qs, RowStrideB = k, ColStrideB = 1,
                    C = pw, Ldc = cols, Batch = 1, M = w, N = cols, K = len, Alpha = 1, Beta = 0,
                });
                // W = T · W, row by row from the top (T upper triangular, so row i reads rows ≥ i only)
                for (int i = 0; i < w; i++)
                {
                    var row = new Span<double>(pw + (long)i * cols, cols);
                    System.Numerics.Tensors.TensorPrimitives.Multiply(row, pt[i * Block + i], row);
                    for (int j = i + 1; j < w; j++)
                        if (pt[i * Block + j] != 0)
                            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(
                                new ReadOnlySpan<double>(pw + (long)j * cols, cols), pt[i * Block + j], row, row);
                }
                // Q(b0:rows, b0:k) -= V_b · W
                Gemm<double>.Run(new GemmArgs<double>
                {
                    A = pvb, RowStrideA = w, ColStrideA = 1, B = pw, RowStrideB = cols, ColStrideB = 1,
                    C = qs, Ldc = k, Batch = 1, M = len, N = cols, K = w, Alpha = -1, Beta = 1,
                });
            }
        }
    }

    /// <summary>dlarft (forward, columnwise): T (w × w, row stride <see cref="Block"/>) with
    /// H_0·…·H_{w-1} = I - V·T·Vᵀ: T_ii = τ_i and T(0:i, i) = -τ_i·T(0:i, 0:i)·(V(:, 0:i)ᵀ·v_i).</summary>
    private static void BuildT(double* vb, int len, int w, double* tau, double* t, double* g)
    {
        // G = Vᵀ·V (w × w, row stride Block)
        Gemm<double>.Run(new GemmArgs<double>
        {
            A = vb, RowStrideA = 1, ColStrideA = w, B = vb, RowStrideB = w, ColStrideB = 1,
            C = g, Ldc = Block, Batch = 1, M = w, N = w, K = len, Alpha = 1, Beta = 0,
        });
        for (int i = 0; i < w; i++)
        {
            for (int j = 0; j < Block; j++) t[j * Block + i] = 0;
            t[i * Block + i] = tau[i];
            if (tau[i] == 0) continue;
            for (int j = 0; j < i; j++)
            {
                double acc = 0;
                for (int l = j; l < i; l++) acc += t[j * Block + l] * g[l * Block + i];
                t[j * Block + i] = -tau[i] * acc;
            }
        }
    }
}
