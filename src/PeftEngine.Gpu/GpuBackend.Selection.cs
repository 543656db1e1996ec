namespace PeftEngine.Gpu;

public sealed partial class GpuBackend
{
    public void SelectionBackward(Tensor grad, Tensor indices, int dim, Tensor dx)
    {
        // dx = 0, then dx[o, indices[o, j, i], i] += grad[o, j, i]: a scatter-add into zeros.
        Fill(dx, 0);
        ScatterAdd(dx, dim, indices, grad);
    }
}
