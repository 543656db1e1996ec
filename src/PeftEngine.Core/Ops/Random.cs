namespace PeftEngine;

/// <summary>
/// In-place random fills. Each fill reserves a fresh range of Philox blocks from its <see cref="Generator"/>
/// (<see cref="Generator.Default"/> when none is given) and asks the backend to fill that range; f16/bf16 tensors
/// and strided views are filled through a contiguous f32 (or own-dtype) temporary. No graph is recorded.
/// </summary>
/// <remarks>PyTorch: Tensor.uniform_, normal_, bernoulli_, random_; torch.nn.init.trunc_normal_.</remarks>
public static partial class Ops
{
    /// <summary>Fills <paramref name="dst"/> with values uniform on [<paramref name="low"/>, <paramref name="high"/>).</summary>
    /// <remarks>PyTorch: Tensor.uniform_(low, high, generator=g). The upper end can be reached by rounding when
    /// high − low is not a power of two, as in PyTorch.</remarks>
    public static void UniformInPlace(Tensor dst, double low = 0, double high = 1, Generator? generator = null) =>
        FillRandom(dst, RandomDistribution.Uniform, low, high, generator, "UniformInPlace");

    /// <summary>Fills <paramref name="dst"/> with normal values of the given mean and standard deviation.</summary>
    /// <remarks>PyTorch: Tensor.normal_(mean, std, generator=g).</remarks>
    public static void NormalInPlace(Tensor dst, double mean = 0, double std = 1, Generator? generator = null) =>
        FillRandom(dst, RandomDistribution.Normal, mean, std, generator, "NormalInPlace");

    /// <summary>Fills <paramref name="dst"/> with normal values (mean, std) restricted to [low, high], drawn by
    /// inverting the normal CDF (no rejection, so every element costs the same).</summary>
    /// <remarks>PyTorch: torch.nn.init.trunc_normal_(t, mean, std, a=low, b=high).</remarks>
    public static void TruncatedNormalInPlace(Tensor dst, double mean = 0, double std = 1, double low = -2, double high = 2, Generator? generator = null)
    {
        if (!(std > 0) || double.IsInfinity(std))
            throw new ArgumentException($"TruncatedNormalInPlace: std must be finite and > 0, got {std}");
        if (!(low < high))
            throw new ArgumentException($"TruncatedNormalInPlace: need low < high, got [{low}, {high}]");
        // Sample z on the standardised interval, then x = z·std + mean.
        FillRandom(dst, RandomDistribution.TruncatedNormal, (low - mean) / std, (high - mean) / std, generator,
            "TruncatedNormalInPlace", scale: std, shift: mean);
    }

    /// <summary>Sets each element to 1 with probability <paramref name="p"/>, else 0 (f32, f64 or u8 tensors).</summary>
    /// <remarks>PyTorch: Tensor.bernoulli_(p).</remarks>
    public static void BernoulliInPlace(Tensor dst, double p, Generator? generator = null) =>
        FillRandom(dst, RandomDistribution.Bernoulli, p, 1, generator, "BernoulliInPlace");

    /// <summary>Fills an integer tensor (i32/i64) with integers uniform on [<paramref name="low"/>, <paramref name="high"/>).</summary>
    /// <remarks>PyTorch: Tensor.random_(low, high).</remarks>
    public static void RandIntInPlace(Tensor dst, long low, long high, Generator? generator = null)
    {
        if (dst.DType == DType.I32 && (low < int.MinValue || high - 1 > int.MaxValue))
            throw new ArgumentException($"RandIntInPlace: [{low}, {high}) does not fit an i32 tensor {dst.Shape}");
        FillRandom(dst, RandomDistribution.Integer, low, high, generator, "RandIntInPlace");
    }

    /// <summary>The shared path of every fill: check, reserve blocks, fill (through a temporary when the
    /// kernel cannot write dst directly), then apply x·scale + shift if asked.</summary>
    internal static void FillRandom(Tensor dst, RandomDistribution distribution, double a, double b, Generator? generator,
        string op, double scale = 1, double shift = 0)
    {
        CheckInPlace(dst, op);
        // f16/bf16 are storage types: sample in f32, then round.
        var kernelType = dst.DType is DType.F16 or DType.BF16 ? DType.F32 : dst.DType;
        try { RandomSampling.Validate(distribution, kernelType, a, b); }
        catch (ArgumentException e) { throw new ArgumentException($"{op} on {dst.DType.Name()} {dst.Shape}: {e.Message}", e); }
        var (seed, offset) = (generator ?? Generator.Default).Reserve(dst.Numel, distribution, kernelType);
        bool affine = scale != 1 || shift != 0;
        if (dst.IsContiguous && kernelType == dst.DType && !affine)
            dst.Backend.FillRandom(dst, distribution, seed, offset, a, b);
        else
        {
            using var tmp = Tensor.Empty(dst.Shape, kernelType, dst.Device);
            dst.Backend.FillRandom(tmp, distribution, seed, offset, a, b);
            if (scale != 1) tmp.Backend.Unary(UnaryOp.MulScalar, tmp, tmp, scale);
            if (shift != 0) tmp.Backend.Unary(UnaryOp.AddScalar, tmp, tmp, shift);
            if (kernelType == dst.DType) dst.Backend.Copy(tmp, dst);
            else dst.Backend.Cast(tmp, dst);
        }
        dst.Storage.BumpVersion();
    }
}
