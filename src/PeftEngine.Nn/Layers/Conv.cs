namespace PeftEngine.Nn;

/// <summary>A 1-D convolution layer over (N, C, L) inputs; weight (O, C/groups, k), bias (O).</summary>
/// <remarks>PyTorch: torch.nn.Conv1d, with its initialisation (kaiming_uniform a = √5; bias U(±1/√fan_in)).</remarks>
public sealed class Conv1d : Module
{
    /// <summary>Creates the layer.</summary>
    public Conv1d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1,
        int groups = 1, bool bias = true, DType dtype = DType.F32, Generator? generator = null)
    {
        if (groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Conv1d: channels in={inChannels}, out={outChannels} must be divisible by groups={groups}");
        (Stride, Padding, Dilation, Groups) = (stride, padding, dilation, groups);
        ConvInit.Register(this, RegisterParameter, new Shape(outChannels, inChannels / groups, kernelSize), bias, dtype, generator);
    }

    /// <summary>Step between output positions.</summary>
    public int Stride { get; }

    /// <summary>Zeros added on each side.</summary>
    public int Padding { get; }

    /// <summary>Spacing of kernel taps.</summary>
    public int Dilation { get; }

    /// <summary>Channel groups.</summary>
    public int Groups { get; }

    /// <summary>The weight (O, C/groups, k).</summary>
    public Parameter Weight => GetParameter("weight")!;

    /// <summary>The bias (O), or null.</summary>
    public Parameter? Bias => GetParameter("bias");

    /// <summary>(N, C, L) -> (N, O, Lo).</summary>
    public override Tensor Forward(Tensor x) => Convolution.Conv1d(x, Weight, Bias?.Data, Stride, Padding, Dilation, Groups);
}

/// <summary>A 2-D convolution layer over (N, C, H, W) inputs; weight (O, C/groups, kh, kw), bias (O).</summary>
/// <remarks>PyTorch: torch.nn.Conv2d, with its initialisation.</remarks>
public sealed class Conv2d : Module
{
    /// <summary>Creates the layer.</summary>
    public Conv2d(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W)? stride = null,
        (int H, int W)? padding = null, (int H, int W)? dilation = null, int groups = 1, bool bias = true,
        DType dtype = DType.F32, Generator? generator = null)
    {
        if (groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Conv2d: channels in={inChannels}, out={outChannels} must be divisible by groups={groups}");
        Stride = stride ?? (1, 1);
        Padding = padding ?? (0, 0);
        Dilation = dilation ?? (1, 1);
        Groups = groups;
        ConvInit.Register(this, RegisterParameter, new Shape(outChannels, inChannels / groups, kernelSize.H, kernelSize.W), bias, dtype, generator);
    }

    /// <summary>Step between output positions.</summary>
    public (int H, int W) Stride { get; }

    /// <summary>Zeros added on each side.</summary>
    public (int H, int W) Padding { get; }

    /// <summary>Spacing of kernel taps.</summary>
    public (int H, int W) Dilation { get; }

    /// <summary>Channel groups.</summary>
    public int Groups { get; }

    /// <summary>The weight (O, C/groups, kh, kw).</summary>
    public Parameter Weight => GetParameter("weight")!;

    /// <summary>The bias (O), or null.</summary>
    public Parameter? Bias => GetParameter("bias");

    /// <summary>(N, C, H, W) -> (N, O, Ho, Wo).</summary>
    public override Tensor Forward(Tensor x) => Convolution.Conv2d(x, Weight, Bias?.Data, Stride, Padding, Dilation, Groups);
}

/// <summary>PyTorch's default convolution initialisation, shared by <see cref="Conv1d"/> and <see cref="Conv2d"/>.</summary>
internal static class ConvInit
{
    public static void Register(Module owner, Func<string, Parameter?, Parameter?> register, Shape weightShape, bool bias, DType dtype, Generator? generator)
    {
        if (weightShape.Dims.ToArray().Any(d => d <= 0))
            throw new ArgumentException($"{owner.GetType().Name}: weight shape {weightShape} must be positive");
        var w = Tensor.Empty(weightShape, dtype);
        Init.KaimingUniform(w, a: Math.Sqrt(5), generator: generator);
        register("weight", new Parameter(w));
        Parameter? b = null;
        if (bias)
        {
            var t = Tensor.Empty(new Shape(weightShape[0]), dtype);
            double bound = 1 / Math.Sqrt(Init.Fans(weightShape).FanIn);
            Init.Uniform(t, -bound, bound, generator);
            b = new Parameter(t);
        }
        register("bias", b);
    }
}
