namespace PeftEngine.Cpu;

/// <summary>
/// One batched GEMM in raw pointers and element strides:
/// <c>C[t] = Alpha · A[t] · B[t] + Beta · C[t]</c> for t in 0..Batch, with A[t] an M x K matrix, B[t] K x N and
/// C[t] M x N. A and B here are already op(a) and op(b): a transpose is only a swap of the two strides.
/// </summary>
internal unsafe struct GemmArgs<T> where T : unmanaged
{
    /// <summary>Element (t, i, p) of A is at A + t*BatchStrideA + i*RowStrideA + p*ColStrideA.</summary>
    public T* A;
    public long BatchStrideA, RowStrideA, ColStrideA;

    /// <summary>Element (t, p, j) of B is at B + t*BatchStrideB + p*RowStrideB + j*ColStrideB.</summary>
    public T* B;
    public long BatchStrideB, RowStrideB, ColStrideB;

    /// <summary>Element (t, i, j) of C is at C + t*BatchStrideC + i*Ldc + j (rows of C are contiguous).</summary>
    public T* C;
    public long BatchStrideC, Ldc;

    public int Batch, M, N, K;
    public T Alpha, Beta;

    /// <summary>The problem seen transposed, Cᵀ = Bᵀ · Aᵀ, for a C with a single row or column, whose
    /// elements are laid out the same either way round.</summary>
    public readonly GemmArgs<T> TransposedVector() => new()
    {
        A = B, BatchStrideA = BatchStrideB, RowStrideA = ColStrideB, ColStrideA = RowStrideB,
        B = A, BatchStrideB = BatchStrideA, RowStrideB = ColStrideA, ColStrideB = RowStrideA,
        C = C, BatchStrideC = BatchStrideC, Ldc = 1,
        Batch = Batch, M = N, N = M, K = K, Alpha = Alpha, Beta = Beta,
    };
}
