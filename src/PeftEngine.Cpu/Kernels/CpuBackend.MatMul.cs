namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Gemm(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha = 1, double beta = 0, Tensor? bias = null)
    {
        GemmShape.Check(a, b, c, transA, transB, bias);
        switch (c.DType)
        {
            case DType.F32: Gemm<float>.Run(GemmShape.Args<float>(a, b, c, transA, transB, (float)alpha, (float)beta, bias)); break;
            case DType.F64: Gemm<double>.Run(GemmShape.Args(a, b, c, transA, transB, alpha, beta, bias)); break;
            default: throw Unsupported("Gemm", c.DType);
        }
    }
}

/// <summary>Checks the tensors of a <see cref="IBackend.Gemm"/> call and turns them into pointers and strides.</summary>
internal static unsafe class GemmShape
{
    /// <summary>Throws unless a, b, c are 3-D with matching (batch, m, k, n), c contiguous, and the dtypes one compute
    /// dtype, or bf16/f16 operands with an f32 c.</summary>
    public static (int Batch, int M, int N, int K) Check(Tensor a, Tensor b, Tensor c, bool transA, bool transB, Tensor? bias = null)
    {
        if (a.Rank != 3 || b.Rank != 3 || c.Rank != 3)
            throw new ArgumentException($"Gemm: expected 3-D (batch, rows, cols) tensors, got a {a.Shape}, b {b.Shape}, c {c.Shape}");
        if (!c.DType.IsCompute() || !Fits(a.DType, c.DType) || !Fits(b.DType, c.DType))
            throw new ArgumentException(
                $"Gemm: dtypes must be f32 or f64 and equal, or bf16/f16 operands with an f32 c; got a {a.DType.Name()}, b {b.DType.Name()}, c {c.DType.Name()}");
        if (!c.IsContiguous)
            throw new ArgumentException($"Gemm: the output c {c.Shape} must be contiguous");
        int batch = c.Shape[0], m = c.Shape[1], n = c.Shape[2];
        int am = a.Shape[transA ? 2 : 1], ak = a.Shape[transA ? 1 : 2];
        int bk = b.Shape[transB ? 2 : 1], bn = b.Shape[transB ? 1 : 2];
        if (a.Shape[0] != batch || b.Shape[0] != batch || am != m || bn != n || ak != bk)
            throw new ArgumentException(
                $"Gemm: op(a) {(transA ? "transposed " : "")}{a.Shape} times op(b) {(transB ? "transposed " : "")}{b.Shape} " +
                $"does not fit c {c.Shape}: expected a ({batch}, {m}, k), b ({batch}, k, {n}) after the transposes");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != n || bias.DType != c.DType || !bias.IsContiguous))
            throw new ArgumentException(
                $"Gemm: the bias must be a contiguous ({n},) {c.DType.Name()} vector to match c {c.Shape}, got {bias.Shape} {bias.DType.Name()}");
        return (batch, m, n, ak);
    }

    /// <summary>An operand of dtype x can feed an output of dtype c: the same dtype, or a 16-bit float into f32.</summary>
    private static bool Fits(DType x, DType c) => x == c || (c == DType.F32 && x is DType.BF16 or DType.F16);

    private static GemmSource Source(DType x, DType c) =>
        x == c ? GemmSource.Native : x == DType.BF16 ? GemmSource.BF16 : GemmSource.F16;

    /// <summary>The address of a tensor's first element, as T* whatever its element size (see <see cref="GemmArgs{T}"/>).</summary>
    private static T* First<T>(Tensor x) where T : unmanaged => (T*)((byte*)x.HostStorage.Ptr<byte>() + x.Offset * x.DType.SizeOf());

    /// <summary>The problem in pointers and element strides; a transpose swaps the two inner strides.</summary>
    public static GemmArgs<T> Args<T>(Tensor a, Tensor b, Tensor c, bool transA, bool transB, T alpha, T beta, Tensor? bias = null)
        where T : unmanaged
    {
        var (batch, m, n, k) = Check(a, b, c, transA, transB, bias);
        var sa = a.Strides;
        var sb = b.Strides;
        return new GemmArgs<T>
        {
            A = First<T>(a), SourceA = Source(a.DType, c.DType),
            BatchStrideA = sa[0], RowStrideA = transA ? sa[2] : sa[1], ColStrideA = transA ? sa[1] : sa[2],
            B = First<T>(b), SourceB = Source(b.DType, c.DType),
            BatchStrideB = sb[0], RowStrideB = transB ? sb[2] : sb[1], ColStrideB = transB ? sb[1] : sb[2],
            C = c.HostStorage.Ptr<T>(c.Offset), Bias = bias is null ? null : bias.HostStorage.Ptr<T>(bias.Offset),
            BatchStrideC = (long)m * n, Ldc = n,
            Batch = batch, M = m, N = n, K = k, Alpha = alpha, Beta = beta,
        };
    }
}
