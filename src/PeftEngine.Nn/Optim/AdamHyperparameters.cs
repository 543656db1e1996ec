namespace PeftEngine.Nn.Optim;

/// <summary>The hyper-parameters every Adam-family optimizer shares, checked in one place.</summary>
public static class AdamHyperparameters
{
    /// <summary>The default (β₁, β₂) of PyTorch's Adam and AdamW.</summary>
    public static readonly (double Beta1, double Beta2) DefaultBetas = (0.9, 0.999);

    /// <summary>Returns <paramref name="betas"/> (or the defaults) after checking that both lie in [0, 1) and that
    /// <paramref name="eps"/> is not negative; errors name <paramref name="optimizer"/>.</summary>
    public static (double Beta1, double Beta2) Check(string optimizer, (double Beta1, double Beta2)? betas, double eps)
    {
        var (b1, b2) = betas ?? DefaultBetas;
        if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1))
            throw new ArgumentOutOfRangeException(nameof(betas), $"{optimizer}: betas must lie in [0, 1), got ({b1}, {b2})");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), $"{optimizer}: eps must be >= 0, got {eps}");
        return (b1, b2);
    }
}
