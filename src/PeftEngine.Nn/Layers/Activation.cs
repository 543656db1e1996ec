namespace PeftEngine.Nn;

/// <summary>The elementwise nonlinearities used between layers.</summary>
/// <remarks>HF: the hidden_act strings of model configs ("relu", "gelu", "gelu_new" / "gelu_pytorch_tanh",
/// "silu", "tanh").</remarks>
public enum ActivationKind
{
    /// <summary>max(0, x).</summary>
    Relu,
    /// <summary>Exact GELU, x Φ(x).</summary>
    Gelu,
    /// <summary>GELU with the tanh approximation (GPT-2's gelu_new).</summary>
    GeluTanh,
    /// <summary>x σ(x) (also called swish).</summary>
    Silu,
    /// <summary>tanh(x).</summary>
    Tanh,
}

/// <summary>An activation as a module (it has no parameters).</summary>
/// <remarks>PyTorch: torch.nn.ReLU / GELU / SiLU / Tanh; HF ACT2FN.</remarks>
public sealed class Activation(ActivationKind kind) : Module
{
    /// <summary>Which function.</summary>
    public ActivationKind Kind { get; } = kind;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Apply(Kind, x);

    /// <summary>Applies <paramref name="kind"/> to x.</summary>
    public static Tensor Apply(ActivationKind kind, Tensor x) => kind switch
    {
        ActivationKind.Relu => Ops.Relu(x),
        ActivationKind.Gelu => Ops.Gelu(x),
        ActivationKind.GeluTanh => Ops.Gelu(x, "tanh"),
        ActivationKind.Silu => Ops.Silu(x),
        ActivationKind.Tanh => Ops.Tanh(x),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown activation"),
    };

    /// <summary>Parses an HF hidden_act string.</summary>
    public static ActivationKind Parse(string name) => name switch
    {
        "relu" => ActivationKind.Relu,
        "gelu" => ActivationKind.Gelu,
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => ActivationKind.GeluTanh,
        "silu" or "swish" => ActivationKind.Silu,
        "tanh" => ActivationKind.Tanh,
        _ => throw new ArgumentException($"Activation.Parse: unknown activation \"{name}\""),
    };

    /// <inheritdoc/>
    protected override string ExtraRepr() => Kind.ToString();
}
