namespace PeftEngine.Cpu;

/// <summary>Special functions the runtime lacks.</summary>
public static class SpecialFunctions
{
    /// <summary>The error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt.</summary>
    public static double Erf(double x) => throw new NotImplementedException("erf");
}
