namespace PeftEngine;

public partial interface IBackend
{
    /// <summary>
    /// Batched general matrix multiply: for every batch index t,
    /// <c>c[t] = alpha · op(a[t]) · op(b[t]) + beta · c[t] + bias</c>, where op(x) is x or its transpose (of the last
    /// two dimensions) as <paramref name="transA"/> / <paramref name="transB"/> say, and the optional bias, a
    /// contiguous (n) vector of c's dtype, is added to every row as c is written (a Linear layer's bias, fused).
    /// </summary>
    /// <remarks>
    /// <para>Shapes: c is (batch, m, n) and contiguous. a is (batch, m, k), or (batch, k, m) when
    /// <paramref name="transA"/>; b is (batch, k, n), or (batch, n, k) when <paramref name="transB"/>.</para>
    /// <para>a and b are read through their strides: any strides are allowed, including a batch stride of 0
    /// (one matrix broadcast over the batch) and a transposed inner layout (unit stride along rows). Callers never
    /// copy an operand to transpose it: they pass a transposed view, or the plain view with the trans flag.</para>
    /// <para>When <paramref name="beta"/> is 0, c is written without being read (so its old contents may be
    /// garbage or NaN). Dtypes: F32 and F64, the same for all three tensors; or, with an F32 c, either operand
    /// may be BF16 or F16 (a frozen 16-bit weight times f32 activations): it is widened to F32 exactly as it is read,
    /// the products are computed in F32, and no F32 copy of the whole operand is made. Each element of c is summed in an
    /// order that depends only on the shapes, never on the thread count.</para>
    /// <para>PyTorch: torch.baddbmm(c, op(a), op(b), beta=beta, alpha=alpha, out=c); BLAS: ?gemm_batch_strided;
    /// with a bias, torch.addmm(bias, x, w.T) as in nn.functional.linear.</para>
    /// </remarks>
    void Gemm(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha = 1, double beta = 0, Tensor? bias = null);
}
