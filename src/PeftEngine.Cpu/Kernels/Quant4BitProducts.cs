using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace PeftEngine.Cpu;

/// <summary>
/// The two ways the CPU multiplies by a blockwise 4-bit weight W (rows, cols).
/// <list type="bullet">
/// <item>A few rows of x (generation, small batches): every row of W is expanded once into a scratch row that
/// stays in L1 and is used for all rows of x. The work is bound by reading W's half byte per weight.</item>
/// <item>Many rows (training, prompts): W is expanded a panel of rows at a time (about 4 MB of F32) and each panel
/// goes through the blocked GEMM, so the expansion cost is spread over all rows of x.</item>
/// </list>
/// No path ever holds all of W in F32, and every sum runs in an order fixed by the shapes alone.
/// </summary>
internal static unsafe class Quant4BitProducts
{
    /// <summary>y (m, rows) = x (m, cols) · Wᵀ (+ bias), one expanded row of W at a time.</summary>
    public static void RowsTimesWeightT(Quant4BitDecoder w, float* x, float* y, float* bias, int m, int rows, int cols)
    {
        CpuParallel.For(rows, (long)cols * (m + 1), (r0, r1) =>
        {
            float* row = (float*)NativeMemory.AlignedAlloc((nuint)cols * sizeof(float), 64);
            try
            {
                var weights = new ReadOnlySpan<float>(row, cols);
                for (long r = r0; r < r1; r++)
                {
                    w.Decode(r * cols, cols, row);
                    float b = bias == null ? 0f : bias[r];
                    for (int i = 0; i < m; i++)
                        y[(long)i * rows + r] = TensorPrimitives.Dot(new ReadOnlySpan<float>(x + (long)i * cols, cols), weights) + b;
                }
            }
            finally { NativeMemory.AlignedFree(row); }
        });
    }

    /// <summary>y (m, cols) = x (m, rows) · W: each thread owns a strip of columns and adds the rows of W into it in
    /// order r = 0, 1, ….</summary>
    public static void RowsTimesWeight(Quant4BitDecoder w, float* x, float* y, int m, int rows, int cols)
    {
        const int strip = 256;   // even, so every strip of a row starts on a byte boundary when cols is even
        long strips = (cols + strip - 1) / strip;
        CpuParallel.For(strips, (long)strip * rows * (m + 1), (s0, s1) =>
        {
            float* part = (float*)NativeMemory.AlignedAlloc(strip * sizeof(float), 64);
            try
            {
                for (long s = s0; s < s1; s++)
                {
                    int c0 = (int)(s * strip), width = Math.Min(strip, cols - c0);
                    var weights = new ReadOnlySpan<float>(part, width);
                    for (int r = 0; r < rows; r++)
                    {
                        w.Decode((long)r * cols + c0, width, part);   // W[r, c0 : c0 + width]
                        for (int i = 0; i < m; i++)
                        {
                            var dst = new Span<float>(y + (long)i * cols + c0, width);
                            float coefficient = x[(long)i * rows + r];
                            if (r == 0) TensorPrimitives.Multiply(weights, coefficient, dst);
                            else TensorPrimitives.MultiplyAdd(weights, coefficient, dst, dst);
                        }
                    }
                }
            }
            finally { NativeMemory.AlignedFree(part); }
        });
    }

    /// <summary>The GEMM path: y = x · Wᵀ (+ bias) when <paramref name="transW"/>, else y = x · W, W expanded a panel of
    /// rows at a time.</summary>
    public static void Panels(Quant4BitDecoder w, float* x, float* y, float* bias, int m, int rows, int cols, bool transW,
        long panelElements)
    {
        int panelRows = (int)Math.Min(rows, Math.Max(16, panelElements / cols / 16 * 16));
        float* panel = (float*)NativeMemory.AlignedAlloc((nuint)((long)panelRows * cols * sizeof(float)), 64);
        try
        {
            for (int r0 = 0; r0 < rows; r0 += panelRows)
            {
                int p = Math.Min(panelRows, rows - r0);
                int first = r0;
                CpuParallel.For(p, cols, (j0, j1) =>
                {
                    for (long j = j0; j < j1; j++) w.Decode((first + j) * cols, cols, panel + j * cols);
                });
                var g = transW
                    ? new GemmArgs<float>   // y[:, r0 : r0+p] = x (m, cols) · panelᵀ (cols, p)
                    {
                        A = x, RowStrideA = cols, ColStrideA = 1,
                        B = panel, RowStrideB = 1, ColStrideB = cols,
                        C = y + r0, Ldc = rows, Bias = bias == null ? null : bias + r0,
                        Batch = 1, M = m, N = p, K = cols, Alpha = 1f, Beta = 0f,
                    }
                    : new GemmArgs<float>   // y (m, cols) += x[:, r0 : r0+p] (m, p) · panel (p, cols)
                    {
                        A = x + r0, RowStrideA = rows, ColStrideA = 1,
                        B = panel, RowStrideB = cols, ColStrideB = 1,
                        C = y, Ldc = cols,
                        Batch = 1, M = m, N = cols, K = p, Alpha = 1f, Beta = r0 == 0 ? 0f : 1f,
                    };
                Gemm<float>.Run(g);
            }
        }
        finally { NativeMemory.AlignedFree(panel); }
    }
}
