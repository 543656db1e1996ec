namespace PeftEngine.Cpu;

/// <summary>The element type an operand of a GEMM is stored in.</summary>
internal enum GemmSource
{
    /// <summary>The compute type T itself.</summary>
    Native,
    /// <summary>bfloat16, widened to f32 while packing (T must be float).</summary>
    BF16,
    /// <summary>IEEE half, widened to f32 while packing (T must be float).</summary>
    F16,
}

/// <summary>
/// One batched GEMM in raw pointers and element strides:
/// <c>C[t] = Alpha · A[t] · B[t] + Beta · C[t]</c> for t in 0..Batch, with A[t] an M x K matrix, B[t] K x N and
/// C[t] M x N. A and B here are already op(a) and op(b): a transpose is only a swap of the two strides.
/// An operand whose <see cref="SourceA"/> / <see cref="SourceB"/> is a 16-bit float is stored in that type: its
/// pointer is the address of 16-bit elements and its strides count 16-bit elements (use <see cref="AAt"/> and
/// <see cref="BAt"/> for addresses).
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

    /// <summary>Null, or N contiguous elements added to every row of every C[t] as it is written:
    /// <c>C[t] = Alpha · A[t] · B[t] + Beta · C[t] + 1 · Biasᵀ</c> (the bias of a Linear layer).</summary>
    public T* Bias;

    /// <summary>What A and B are stored in; <see cref="GemmSource.Native"/> unless a 16-bit operand is mixed in.</summary>
    public GemmSource SourceA, SourceB;

    public int Batch, M, N, K;
    public T Alpha, Beta;

    /// <summary>The problem seen transposed, Cᵀ = Bᵀ · Aᵀ, with the rows of Cᵀ one element apart (Ldc = 1): the
    /// whole layout for a C with a single row or column; otherwise whoever writes Cᵀ places its columns
    /// (the rows of C) the original Ldc apart.</summary>
    public readonly GemmArgs<T> Transposed() => new()
    {
        A = B, BatchStrideA = BatchStrideB, RowStrideA = ColStrideB, ColStrideA = RowStrideB,
        B = A, BatchStrideB = BatchStrideA, RowStrideB = ColStrideA, ColStrideB = RowStrideA,
        C = C, BatchStrideC = BatchStrideC, Ldc = 1,
        SourceA = SourceB, SourceB = SourceA,
        Batch = Batch, M = N, N = M, K = K, Alpha = Alpha, Beta = Beta,
    };

    /// <summary>True when both operands are stored in T.</summary>
    public readonly bool IsNative => SourceA == GemmSource.Native && SourceB == GemmSource.Native;

    /// <summary>The address of the element of A <paramref name="offset"/> elements from <see cref="A"/>.</summary>
    public readonly void* AAt(long offset) => At(A, SourceA, offset);

    /// <summary>The address of the element of B <paramref name="offset"/> elements from <see cref="B"/>.</summary>
    public readonly void* BAt(long offset) => At(B, SourceB, offset);

    private static void* At(T* p, GemmSource source, long offset) =>
        source == GemmSource.Native ? p + offset : (ushort*)p + offset;
}
