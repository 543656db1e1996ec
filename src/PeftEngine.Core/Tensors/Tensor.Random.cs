namespace PeftEngine;

public sealed partial class Tensor
{
    /// <summary>Values uniform on [0, 1).</summary>
    /// <remarks>PyTorch: torch.rand(shape, generator=g, dtype=...).</remarks>
    public static Tensor Rand(Shape shape, Generator? generator = null, DType dtype = DType.F32, Device? device = null) =>
        Uniform(shape, 0, 1, generator, dtype, device);

    /// <summary>Standard normal values (mean 0, standard deviation 1).</summary>
    /// <remarks>PyTorch: torch.randn.</remarks>
    public static Tensor Randn(Shape shape, Generator? generator = null, DType dtype = DType.F32, Device? device = null) =>
        Normal(shape, 0, 1, generator, dtype, device);

    /// <summary>Values uniform on [<paramref name="low"/>, <paramref name="high"/>).</summary>
    /// <remarks>PyTorch: torch.empty(shape).uniform_(low, high).</remarks>
    public static Tensor Uniform(Shape shape, double low, double high, Generator? generator = null, DType dtype = DType.F32, Device? device = null) =>
        Filled(shape, dtype, device, t => Ops.UniformInPlace(t, low, high, generator));

    /// <summary>Normal values with the given mean and standard deviation.</summary>
    /// <remarks>PyTorch: torch.normal(mean, std, size).</remarks>
    public static Tensor Normal(Shape shape, double mean, double std, Generator? generator = null, DType dtype = DType.F32, Device? device = null) =>
        Filled(shape, dtype, device, t => Ops.NormalInPlace(t, mean, std, generator));

    /// <summary>An i64 tensor of integers uniform on [<paramref name="low"/>, <paramref name="high"/>).</summary>
    /// <remarks>PyTorch: torch.randint(low, high, size).</remarks>
    public static Tensor RandInt(Shape shape, long low, long high, Generator? generator = null, Device? device = null) =>
        Filled(shape, DType.I64, device, t => Ops.RandIntInPlace(t, low, high, generator));

    /// <summary>Uniform [0, 1) values shaped, typed and placed like <paramref name="like"/>.</summary>
    public static Tensor RandLike(Tensor like, Generator? generator = null) => Rand(like.Shape, generator, like.DType, like.Device);

    /// <summary>Standard normal values shaped, typed and placed like <paramref name="like"/>.</summary>
    public static Tensor RandnLike(Tensor like, Generator? generator = null) => Randn(like.Shape, generator, like.DType, like.Device);

    private static Tensor Filled(Shape shape, DType dtype, Device? device, Action<Tensor> fill)
    {
        var t = Empty(shape, dtype, device);
        try { fill(t); }
        catch
        {
            t.Dispose();
            throw;
        }
        return t;
    }
}
