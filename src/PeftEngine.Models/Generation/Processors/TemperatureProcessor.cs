namespace PeftEngine.Models.Generation;

/// <summary>Divides every score by the temperature τ: τ &lt; 1 sharpens the distribution, τ &gt; 1 flattens it.</summary>
/// <remarks>HF: TemperatureLogitsWarper.</remarks>
public sealed class TemperatureProcessor : ILogitsProcessor
{
    /// <summary>Creates the processor for τ &gt; 0.</summary>
    public TemperatureProcessor(double temperature)
    {
        if (!(temperature > 0)) throw new ArgumentException($"TemperatureProcessor: temperature must be positive, got {temperature}");
        Temperature = temperature;
    }

    /// <summary>τ.</summary>
    public double Temperature { get; }

    /// <inheritdoc/>
    public void Process(IReadOnlyList<long> sequence, Span<double> scores)
    {
        for (int i = 0; i < scores.Length; i++) scores[i] /= Temperature;
    }
}
