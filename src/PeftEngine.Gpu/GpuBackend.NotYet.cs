namespace PeftEngine.Gpu;

/// <summary>Kernels the GPU backend does not have yet: each throws <see cref="NotSupportedException"/> naming
/// itself and the device, never computing a wrong answer. docs/GPU.md lists them.</summary>
public sealed partial class GpuBackend
{
    public void SelectionBackward(Tensor grad, Tensor indices, int dim, Tensor dx)
    {
        // dx = 0, then dx[o, indices[o, j, i], i] += grad[o, j, i]: a scatter-add into zeros.
        Fill(dx, 0);
        ScatterAdd(dx, dim, indices, grad);
    }

    public void Svd(Tensor a, Tensor? u, Tensor s, Tensor? vh, bool computeUV) => throw NotOnGpu("Svd");

    public void Qr(Tensor a, Tensor q, Tensor r, bool complete) => throw NotOnGpu("Qr");

    public void Eigh(Tensor a, Tensor w, Tensor v) => throw NotOnGpu("Eigh");

    public FactorizationFailure? Cholesky(Tensor a, Tensor l) => throw NotOnGpu("Cholesky");

    public FactorizationFailure? LuFactor(Tensor a, Tensor lu, Tensor pivots) => throw NotOnGpu("LuFactor");

    public void LuSolve(Tensor lu, Tensor pivots, Tensor b, Tensor x) => throw NotOnGpu("LuSolve");

    public void Fft(Tensor x, Tensor y, bool inverse, double scale) => throw NotOnGpu("Fft");

    public void Dequantize4Bit(PackedWeight4Bit w, Tensor output) => throw NotOnGpu("Dequantize4Bit");

    public void MatMul4Bit(Tensor x, PackedWeight4Bit w, Tensor y, bool transW, Tensor? bias = null) => throw NotOnGpu("MatMul4Bit");
}
