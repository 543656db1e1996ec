using PeftEngine.Nn;

namespace PeftEngine.Peft.Prompt;

/// <summary>
/// Produces the flat prefix (n, L·2·token_dim) of prefix tuning: either an <c>embedding</c> table of that shape, or,
/// with the projection, an <c>embedding</c> (n, token_dim) fed through <c>transform</c> = Linear(token_dim, h) ->
/// Tanh -> Linear(h, L·2·token_dim). An encoder built for inference never has the MLP: its table holds the
/// computed prefix read from a file.
/// </summary>
/// <remarks>HF: peft.tuners.prefix_tuning.PrefixEncoder (children <c>embedding</c> and <c>transform.0</c>,
/// <c>transform.2</c>).</remarks>
public sealed class PrefixEncoder : Module
{
    /// <summary>Creates the encoder for <paramref name="config"/> (whose sizes are already filled in).</summary>
    public PrefixEncoder(PrefixTuningConfig config, Generator? generator)
    {
        ArgumentNullException.ThrowIfNull(config);
        int n = config.NumVirtualTokens, d = config.TokenDim!.Value, layers = config.NumLayers!.Value;
        int flat = layers * 2 * d;
        bool zero = config.InitWeights == "zero";
        Projected = config.PrefixProjection && !config.InferenceMode;
        if (Projected)
        {
            int h = config.EncoderHiddenSize ?? d;
            RegisterModule("embedding", new Embedding(n, d, generator: generator));
            var last = new Linear(h, flat, generator: generator);
            RegisterModule("transform", new Sequential(new Linear(d, h, generator: generator), new Activation(ActivationKind.Tanh), last));
            if (zero)
                using (GradMode.Disable())
                {
                    Ops.FillInPlace(last.Weight, 0);
                    if (last.Bias is { } bias) Ops.FillInPlace(bias, 0);
                }
        }
        else
        {
            var embedding = RegisterModule("embedding", new Embedding(n, flat, generator: generator));
            if (zero)
                using (GradMode.Disable()) Ops.FillInPlace(embedding.Weight, 0);
        }
    }

    /// <summary>True when the prefix is computed by the MLP.</summary>
    public bool Projected { get; }

    /// <summary>The table (n, token_dim) with the projection, else (n, L·2·token_dim).</summary>
    public Parameter Weight => GetSubmodule<Embedding>("embedding").Weight;

    /// <summary>The flat prefix (n, L·2·token_dim), with the graph to the parameters.</summary>
    /// <remarks>HF: PrefixEncoder.forward(arange(n)).</remarks>
    public Tensor Prefix()
    {
        int n = Weight.Shape[0];
        using var ids = Ops.Arange(0, n, dtype: DType.I64);          // (n)
        var rows = GetChild("embedding").Forward(ids);                // (n) -> (n, token_dim | L·2·token_dim)
        if (!Projected) return rows;
        using (rows) return GetChild("transform").Forward(rows);     // (n, token_dim) -> (n, L·2·token_dim)
    }
}
