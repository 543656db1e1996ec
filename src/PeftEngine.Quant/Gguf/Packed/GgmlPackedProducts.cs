using PeftEngine.Cpu;
using System.Numerics.Tensors;

namespace PeftEngine.Quant;

/// <summary>
/// Products with a packed ggml weight W (N, K) that never expand all of W:
/// <list type="bullet">
/// <item>y = x · Wᵀ for a few rows of x (generation): x is rounded to int8 blocks once, then every output element is
/// an integer block dot product (<see cref="GgmlBlockDot"/>); threads split the rows of W, and each element is
/// computed by one thread in a fixed order, so the result does not depend on the thread count.</item>
/// <item>y = x · Wᵀ for many rows (prefill, training): W is expanded tile by tile (about 4 MB of F32) into the F32
/// GEMM; the integer path would cost M times the weight decoding, the GEMM reuses each expanded tile for all rows.</item>
/// <item>dx = dy · W (a Linear layer's input gradient): tile by tile as well, adding the tiles' products in order.</item>
/// </list>
/// </summary>
/// <remarks>llama.cpp: ggml_compute_forward_mul_mat with src0 quantized (vec_dot over rows for small batches; its
/// own dequantize-then-GEMM path for large batches when a BLAS is available).</remarks>
public static unsafe class GgmlPackedProducts
{
    /// <summary>Up to this many rows of x use the integer dot products; more rows go through dequantized tiles.</summary>
    public const int MatVecMaxRows = 8;

    /// <summary>Elements of W expanded at once on the tiled paths (4 MB of F32).</summary>
    public const long TileElements = 1 << 20;

    /// <summary>y (m, N) = x (m, K) · Wᵀ (+ bias) with int8-rounded activations, for any m (callers use it for small m).</summary>
    public static void MatVec(ReadOnlySpan<float> x, int m, GgmlPackedWeight w, Span<float> y, ReadOnlySpan<float> bias = default)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (x.Length != (long)m * w.Cols || y.Length != (long)m * w.Rows || (!bias.IsEmpty && bias.Length != w.Rows))
            throw new ArgumentException($"GgmlPackedProducts.MatVec: x has {x.Length} values, y {y.Length}, bias {bias.Length} for {m} rows and a ({w.Rows}, {w.Cols}) {w.Type} weight");
        var a = ActivationBlocks.Quantize(x, m, w.Cols, ActivationBlocks.ScaleBlockFor(w.Type));
        fixed (float* py = y)
        fixed (float* pb = bias)
            MatVec(a, w, py, pb);
    }

    /// <summary>y (a.Rows, N) = a · Wᵀ (+ bias) from already rounded activations.</summary>
    internal static void MatVec(ActivationBlocks a, GgmlPackedWeight w, float* y, float* bias)
    {
        int m = a.Rows, n = w.Rows, k = w.Cols;
        int scalesPerRow = k / a.ScaleBlock, sumsPerRow = k / ActivationBlocks.SumBlock;
        byte* wp = w.Data;
        var type = w.Type;
        int rowBytes = w.RowBytes;
        fixed (sbyte* q = a.Codes)
        fixed (float* scales = a.Scales)
        fixed (int* sums = a.Sums)
        {
            sbyte* qq = q;
            float* ss = scales;
            int* su = sums;
            CpuParallel.For(n, (long)k * m, (r0, r1) =>
            {
                for (long r = r0; r < r1; r++)
                {
                    byte* row = wp + r * rowBytes;
                    float b = bias == null ? 0f : bias[r];
                    for (int i = 0; i < m; i++)
                        y[(long)i * n + r] = GgmlBlockDot.Dot(type, row, qq + (long)i * k, ss + (long)i * scalesPerRow, su + (long)i * sumsPerRow, k) + b;
                }
            });
        }
    }

    /// <summary>y (M, N) = x (M, K) · Wᵀ (+ bias): W expanded tile by tile into the F32 GEMM. x is a contiguous F32 (M, K) tensor.</summary>
    public static void TiledForward(Tensor x, GgmlPackedWeight w, Span<float> y, ReadOnlySpan<float> bias = default)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        int m = x.Shape[0], n = w.Rows;
        if (y.Length != (long)m * n)
            throw new ArgumentException($"GgmlPackedProducts.TiledForward: y has {y.Length} values, expected {m} x {n}");
        int tileRows = TileRows(w);
        using var _ = GradMode.Disable();
        for (int r0 = 0; r0 < n; r0 += tileRows)
        {
            int rows = Math.Min(tileRows, n - r0);
            using var tile = ExpandRows(w, r0, rows);                 // (rows, K)
            using var part = Ops.Linear(x, tile);                     // (M, K) · (rows, K)ᵀ -> (M, rows)
            var src = part.HostStorage.AsSpan<float>(part.Offset, part.Numel);
            for (int i = 0; i < m; i++)
                src.Slice(i * rows, rows).CopyTo(y.Slice(i * n + r0, rows));
        }
        if (!bias.IsEmpty)
            for (int i = 0; i < m; i++) TensorPrimitives.Add(y.Slice(i * n, n), bias, y.Slice(i * n, n));
    }

    /// <summary>dx (M, K) = dy (M, N) · W, tile by tile (each tile's product is added in row order of W). dy is a
    /// contiguous F32 (M, N) tensor.</summary>
    public static void InputGradient(Tensor dy, GgmlPackedWeight w, Span<float> dx)
    {
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(w);
        int m = dy.Shape[0], n = w.Rows, k = w.Cols;
        if (dy.Shape[1] != n || dx.Length != (long)m * k)
            throw new ArgumentException($"GgmlPackedProducts.InputGradient: dy {dy.Shape} and dx of {dx.Length} values do not fit a ({n}, {k}) weight");
        dx.Clear();
        int tileRows = TileRows(w);
        using var _ = GradMode.Disable();
        for (int r0 = 0; r0 < n; r0 += tileRows)
        {
            int rows = Math.Min(tileRows, n - r0);
            using var tile = ExpandRows(w, r0, rows);                 // (rows, K)
            using var gView = Ops.Narrow(dy, 1, r0, rows);            // (M, rows)
            using var g = Ops.Contiguous(gView);
            using var part = Ops.MatMul(g, tile);                     // (M, rows) · (rows, K) -> (M, K)
            TensorPrimitives.Add(dx, part.HostStorage.AsSpan<float>(part.Offset, part.Numel), dx);
        }
    }

    /// <summary>Rows of W per tile: about <see cref="TileElements"/> values, a multiple of 16 rows when W is large.</summary>
    private static int TileRows(GgmlPackedWeight w)
    {
        long rows = Math.Max(1, TileElements / w.Cols);
        if (rows >= 16) rows -= rows % 16;
        return (int)Math.Min(rows, w.Rows);
    }

    /// <summary>Rows [r0, r0 + rows) of W as a new F32 (rows, K) tensor, expanded in parallel.</summary>
    private static Tensor ExpandRows(GgmlPackedWeight w, int r0, int rows)
    {
        var t = Tensor.Empty(new Shape(rows, w.Cols), DType.F32, Device.Cpu);
        float* dst = t.HostStorage.Ptr<float>(t.Offset);
        int k = w.Cols;
        CpuParallel.For(rows, k, (a, b) =>
            w.DequantizeRows(r0 + (int)a, (int)(b - a), new Span<float>(dst + a * k, (int)((b - a) * k))));
        return t;
    }
}
