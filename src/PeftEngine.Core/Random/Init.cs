namespace PeftEngine;

/// <summary>Which fan the Kaiming initialisers scale by.</summary>
public enum FanMode
{
    /// <summary>Inputs per output unit: keeps the variance of activations in the forward pass.</summary>
    FanIn,
    /// <summary>Outputs per input unit: keeps the variance of gradients in the backward pass.</summary>
    FanOut,
}

/// <summary>The activation that follows a layer, for <see cref="Init.CalculateGain"/>.</summary>
public enum Nonlinearity { Linear, Conv, Sigmoid, Tanh, Relu, LeakyRelu, Selu }

/// <summary>
/// Weight initialisers. Each fills a tensor in place (under GradMode.Disable, so parameters that require grad
/// can be initialised) from a <see cref="Generator"/> (the default one when none is given).
/// </summary>
/// <remarks>PyTorch: torch.nn.init (uniform_, normal_, kaiming_uniform_, kaiming_normal_, xavier_uniform_,
/// xavier_normal_, trunc_normal_, calculate_gain), with the same formulas and defaults. A weight is shaped
/// (out, in, *kernel): fan_in = in · Π kernel, fan_out = out · Π kernel.</remarks>
public static class Init
{
    /// <summary>The gain that keeps activation variance stable through <paramref name="nonlinearity"/>: 1 for
    /// linear/conv/sigmoid, 5/3 for tanh, √2 for ReLU, √(2 / (1 + slope²)) for leaky ReLU (slope =
    /// <paramref name="param"/>, default 0.01), 3/4 for SELU.</summary>
    /// <remarks>PyTorch: torch.nn.init.calculate_gain.</remarks>
    public static double CalculateGain(Nonlinearity nonlinearity, double? param = null) => nonlinearity switch
    {
        Nonlinearity.Linear or Nonlinearity.Conv or Nonlinearity.Sigmoid => 1.0,
        Nonlinearity.Tanh => 5.0 / 3.0,
        Nonlinearity.Relu => Math.Sqrt(2.0),
        Nonlinearity.LeakyRelu => Math.Sqrt(2.0 / (1 + Math.Pow(param ?? 0.01, 2))),
        Nonlinearity.Selu => 0.75,
        _ => throw new ArgumentOutOfRangeException(nameof(nonlinearity), nonlinearity, "unknown nonlinearity"),
    };

    /// <summary>(fan_in, fan_out) of a weight shaped (out, in, *kernel); an error for fewer than two dimensions.</summary>
    /// <remarks>PyTorch: torch.nn.init._calculate_fan_in_and_fan_out.</remarks>
    public static (long FanIn, long FanOut) Fans(Shape shape)
    {
        if (shape.Rank < 2)
            throw new ArgumentException($"fan in and fan out need a tensor with at least 2 dimensions, got {shape}");
        long receptive = 1;
        for (int d = 2; d < shape.Rank; d++) receptive *= shape[d];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>Uniform on [low, high).</summary>
    /// <remarks>PyTorch: torch.nn.init.uniform_.</remarks>
    public static void Uniform(Tensor t, double low = 0, double high = 1, Generator? generator = null)
    {
        using (GradMode.Disable()) Ops.UniformInPlace(t, low, high, generator);
    }

    /// <summary>Normal with the given mean and standard deviation.</summary>
    /// <remarks>PyTorch: torch.nn.init.normal_.</remarks>
    public static void Normal(Tensor t, double mean = 0, double std = 1, Generator? generator = null)
    {
        using (GradMode.Disable()) Ops.NormalInPlace(t, mean, std, generator);
    }

    /// <summary>He initialisation, uniform: U(−bound, bound) with bound = gain · √(3 / fan), gain =
    /// CalculateGain(nonlinearity, a).</summary>
    /// <remarks>PyTorch: torch.nn.init.kaiming_uniform_(t, a, mode, nonlinearity). He et al. 2015.</remarks>
    public static void KaimingUniform(Tensor t, double a = 0, FanMode mode = FanMode.FanIn,
        Nonlinearity nonlinearity = Nonlinearity.LeakyRelu, Generator? generator = null)
    {
        double bound = Math.Sqrt(3.0) * KaimingStd(t, a, mode, nonlinearity);
        Uniform(t, -bound, bound, generator);
    }

    /// <summary>He initialisation, normal: N(0, std²) with std = gain / √fan.</summary>
    /// <remarks>PyTorch: torch.nn.init.kaiming_normal_.</remarks>
    public static void KaimingNormal(Tensor t, double a = 0, FanMode mode = FanMode.FanIn,
        Nonlinearity nonlinearity = Nonlinearity.LeakyRelu, Generator? generator = null) =>
        Normal(t, 0, KaimingStd(t, a, mode, nonlinearity), generator);

    /// <summary>Glorot initialisation, uniform: U(−b, b) with b = gain · √(6 / (fan_in + fan_out)).</summary>
    /// <remarks>PyTorch: torch.nn.init.xavier_uniform_. Glorot and Bengio 2010.</remarks>
    public static void XavierUniform(Tensor t, double gain = 1, Generator? generator = null)
    {
        double bound = Math.Sqrt(3.0) * XavierStd(t, gain);
        Uniform(t, -bound, bound, generator);
    }

    /// <summary>Glorot initialisation, normal: N(0, std²) with std = gain · √(2 / (fan_in + fan_out)).</summary>
    /// <remarks>PyTorch: torch.nn.init.xavier_normal_.</remarks>
    public static void XavierNormal(Tensor t, double gain = 1, Generator? generator = null) =>
        Normal(t, 0, XavierStd(t, gain), generator);

    /// <summary>Normal (mean, std) restricted to [a, b] (absolute bounds, not in units of std).</summary>
    /// <remarks>PyTorch: torch.nn.init.trunc_normal_(t, mean, std, a, b).</remarks>
    public static void TruncatedNormal(Tensor t, double mean = 0, double std = 1, double a = -2, double b = 2, Generator? generator = null)
    {
        using (GradMode.Disable()) Ops.TruncatedNormalInPlace(t, mean, std, a, b, generator);
    }

    private static double KaimingStd(Tensor t, double a, FanMode mode, Nonlinearity nonlinearity)
    {
        var (fanIn, fanOut) = Fans(t.Shape);
        long fan = mode == FanMode.FanIn ? fanIn : fanOut;
        if (fan == 0) throw new ArgumentException($"Kaiming initialisation of an empty tensor {t.Shape}");
        return CalculateGain(nonlinearity, a) / Math.Sqrt(fan);
    }

    private static double XavierStd(Tensor t, double gain)
    {
        var (fanIn, fanOut) = Fans(t.Shape);
        if (fanIn + fanOut == 0) throw new ArgumentException($"Xavier initialisation of an empty tensor {t.Shape}");
        return gain * Math.Sqrt(2.0 / (fanIn + fanOut));
    }
}
