using System.Numerics;
using System.Runtime.Intrinsics;

namespace PeftEngine.Cpu;

/// <summary>The vector width a GEMM runs with.</summary>
internal enum GemmIsa
{
    /// <summary>The widest the CPU runs natively.</summary>
    Best,
    /// <summary>AVX-512: 12 x 2 vectors micro-kernel (24 x 1 vector for C at most one vector wide).</summary>
    V512,
    /// <summary>AVX2: 6 x 2 vectors micro-kernel.</summary>
    V256,
    /// <summary>SSE / NEON: 6 x 2 vectors micro-kernel.</summary>
    V128,
}

/// <summary>
/// Entry point of the fast GEMM: handles the degenerate shapes, merges a broadcast B's batch into the rows of A,
/// sends matrix-vector and other narrow products to <see cref="GemmVectorPath{T}"/>, and runs everything else through the
/// blocked <see cref="GemmDriver{TK, T}"/> with the micro-kernel for the CPU's vector width. A bf16 or f16 operand
/// (f32 compute) always takes the blocked path, which widens it while packing.
/// </summary>
internal static unsafe class Gemm<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Computes <c>C[t] = Alpha · A[t] · B[t] + Beta · C[t] (+ Bias on each row)</c> for the batched problem g.</summary>
    /// <param name="g">The problem.</param>
    /// <param name="isa">The micro-kernel to use; tests pin narrower ones to check them on a wide CPU.</param>
    /// <param name="allowVectorPath">False forces narrow shapes through the blocked kernel (for tests).</param>
    public static void Run(GemmArgs<T> g, GemmIsa isa = GemmIsa.Best, bool allowVectorPath = true)
    {
        if (g.Batch == 0 || g.M == 0 || g.N == 0) return;
        if (g.K == 0)
        {
            ScaleC(g);
            return;
        }
        // A B shared by the whole batch, over rows of A that follow each other from one matrix to the next:
        // the batch is one tall matrix, (Batch*M) x K times K x N.
        if (g.Batch > 1 && g.BatchStrideB == 0 && g.BatchStrideA == g.M * g.RowStrideA && g.BatchStrideC == g.M * g.Ldc
            && (long)g.Batch * g.M <= int.MaxValue)
        {
            g.M *= g.Batch;
            g.Batch = 1;
        }
        if (isa == GemmIsa.Best)
            isa = Vector512.IsHardwareAccelerated ? GemmIsa.V512 : Vector256.IsHardwareAccelerated ? GemmIsa.V256 : GemmIsa.V128;
        // The unpacked narrow forms read A and B in place, so they take only operands stored as T.
        if (allowVectorPath && g.IsNative && GemmVectorPath<T>.TryRun(g, isa))
        {
            // The narrow forms write C = alpha·A·B + beta·C; C has at most a few rows or columns there, so the bias
            // takes a pass of its own.
            if (g.Bias != null) AddBias(g);
            return;
        }
        switch (isa)
        {
            case GemmIsa.V512 when g.N <= GemmVector512<T>.Count:
                // At most one vector of columns: the 24 x 1-vector kernel wastes no lanes on padding.
                GemmDriver<GemmKernel24<GemmVector512<T>, Vector512<T>, T>, T>.Run(g);
                break;
            case GemmIsa.V512:
                GemmDriver<GemmKernel12<GemmVector512<T>, Vector512<T>, T>, T>.Run(g);
                break;
            case GemmIsa.V256:
                GemmDriver<GemmKernel6<GemmVector256<T>, Vector256<T>, T>, T>.Run(g);
                break;
            default:
                GemmDriver<GemmKernel6<GemmVector128<T>, Vector128<T>, T>, T>.Run(g);
                break;
        }
    }

    /// <summary>C += bias on every row of every matrix.</summary>
    private static void AddBias(GemmArgs<T> g)
    {
        var bias = new ReadOnlySpan<T>(g.Bias, g.N);
        for (long t = 0; t < g.Batch; t++)
            for (long i = 0; i < g.M; i++)
            {
                var row = new Span<T>(g.C + t * g.BatchStrideC + i * g.Ldc, g.N);
                System.Numerics.Tensors.TensorPrimitives.Add(row, bias, row);
            }
    }

    /// <summary>C = beta · C (+ bias) when there is nothing to multiply (K = 0); zeros when beta is 0.</summary>
    private static void ScaleC(GemmArgs<T> g)
    {
        for (long t = 0; t < g.Batch; t++)
            for (long i = 0; i < g.M; i++)
            {
                var row = new Span<T>(g.C + t * g.BatchStrideC + i * g.Ldc, g.N);
                if (g.Beta == T.Zero) row.Clear();
                else if (g.Beta != T.One)
                    for (int j = 0; j < row.Length; j++) row[j] *= g.Beta;
                if (g.Bias != null)
                    for (int j = 0; j < row.Length; j++) row[j] += g.Bias[j];
            }
    }
}
