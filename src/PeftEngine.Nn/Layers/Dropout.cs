namespace PeftEngine.Nn;

/// <summary>Zeroes each element with probability p in training mode (scaling the rest by 1/(1−p)); the
/// identity in evaluation mode.</summary>
/// <remarks>PyTorch: torch.nn.Dropout(p). The mask comes from <see cref="Generator"/> (the default one when
/// null), so a seeded generator makes training runs repeatable.</remarks>
public sealed class Dropout : Module
{
    /// <summary>Creates the layer.</summary>
    public Dropout(double p = 0.5, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: probability must lie in [0, 1], got {p}");
        P = p;
        Generator = generator;
    }

    /// <summary>Probability of zeroing an element.</summary>
    public double P { get; }

    /// <summary>The random source, or null for <see cref="PeftEngine.Generator.Default"/>.</summary>
    public Generator? Generator { get; set; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.Dropout(x, P, IsTraining, Generator);

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"p={P}";
}
