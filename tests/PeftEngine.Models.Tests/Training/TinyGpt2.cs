using PeftEngine.IO;
using PeftEngine.Models;

namespace PeftEngine.Tests.Training;

/// <summary>The small GPT-2 the trainer tests train.</summary>
internal static class TinyGpt2
{
    /// <summary>A 2-layer GPT-2 with 16-wide embeddings over a 40-token vocabulary; dropout draws from
    /// <paramref name="generator"/>, which also initialises the weights.</summary>
    public static Gpt2Model Create(Generator generator, double dropout = 0) => new((Gpt2Config)HfConfig.Parse(
        "{\"model_type\":\"gpt2\",\"vocab_size\":40,\"n_positions\":32,\"n_embd\":16,\"n_layer\":2,\"n_head\":2,"
        + $"\"attn_pdrop\":{D(dropout)},\"resid_pdrop\":{D(dropout)},\"embd_pdrop\":{D(dropout)}}}"), generator: generator);

    private static string D(double v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
