namespace PeftEngine.IO;

/// <summary>The <c>rope_scaling</c> block of a config: how rotary frequencies are stretched for long contexts.</summary>
/// <param name="RopeType">"linear", "dynamic", "yarn", "longrope", "llama3" (from "rope_type" or the legacy "type").</param>
/// <param name="Factor">The context extension factor.</param>
/// <param name="LowFreqFactor">llama3: wavelengths above original/low_freq_factor are divided by the factor.</param>
/// <param name="HighFreqFactor">llama3: wavelengths below original/high_freq_factor are kept.</param>
/// <param name="OriginalMaxPositionEmbeddings">The pre-training context length.</param>
/// <remarks>HF transformers: <c>modeling_rope_utils.ROPE_INIT_FUNCTIONS</c>.</remarks>
public sealed record RopeScaling(string RopeType, double Factor, double? LowFreqFactor = null, double? HighFreqFactor = null,
    int? OriginalMaxPositionEmbeddings = null)
{
    internal static RopeScaling? Read(JsonFields cfg)
    {
        if (cfg.Object("rope_scaling") is not { } r) return null;
        string type = r.StringOrNull("rope_type") ?? r.StringOrNull("type")
            ?? throw cfg.Error("rope_scaling", "missing 'rope_type'");
        double factor = r.DoubleOrNull("factor") ?? (type == "default" ? 1.0 : throw cfg.Error("rope_scaling", $"'{type}' scaling needs a 'factor'"));
        var s = new RopeScaling(type, factor, r.DoubleOrNull("low_freq_factor"), r.DoubleOrNull("high_freq_factor"),
            r.IntOrNull("original_max_position_embeddings"));
        if (type == "llama3" && (s.LowFreqFactor is null || s.HighFreqFactor is null || s.OriginalMaxPositionEmbeddings is null))
            throw cfg.Error("rope_scaling", "llama3 scaling needs low_freq_factor, high_freq_factor and original_max_position_embeddings");
        return s;
    }

    /// <summary>
    /// The rotary inverse frequencies <c>theta^(-2j/dim)</c>, j &lt; dim/2, with this scaling applied ("linear" divides
    /// every frequency by the factor; "llama3" divides low frequencies, keeps high ones and blends in between).
    /// "default" and "dynamic" give the unscaled frequencies: dynamic NTK scaling changes nothing up to
    /// original_max_position_embeddings, and beyond that it is not implemented (the tables are those of the
    /// original context).
    /// </summary>
    /// <exception cref="NotSupportedException">For "yarn", "longrope" and unknown types, whose frequencies (and, for
    /// yarn, attention scale) are not implemented: computing without them would silently give other logits.</exception>
    public static double[] InverseFrequencies(int dim, double theta, RopeScaling? scaling)
    {
        var inv = new double[dim / 2];
        for (int j = 0; j < inv.Length; j++) inv[j] = Math.Pow(theta, -2.0 * j / dim);
        if (scaling is null) return inv;
        if (scaling.RopeType is not ("default" or "linear" or "llama3" or "dynamic"))
            throw new NotSupportedException($"rope_scaling type '{scaling.RopeType}' is not supported (default, linear, llama3 and dynamic up to the original context are)");
        if (scaling.RopeType == "linear")
        {
            for (int j = 0; j < inv.Length; j++) inv[j] /= scaling.Factor;
        }
        else if (scaling.RopeType == "llama3")
        {
            double orig = scaling.OriginalMaxPositionEmbeddings!.Value;
            double lo = scaling.LowFreqFactor!.Value, hi = scaling.HighFreqFactor!.Value;
            double lowFreqWavelen = orig / lo, highFreqWavelen = orig / hi;
            for (int j = 0; j < inv.Length; j++)
            {
                double wavelen = 2 * Math.PI / inv[j];
                if (wavelen < highFreqWavelen) continue;                       // high frequency: keep
                if (wavelen > lowFreqWavelen) { inv[j] /= scaling.Factor; continue; } // low frequency: scale
                double smooth = (orig / wavelen - lo) / (hi - lo);               // in between: blend
                inv[j] = (1 - smooth) * inv[j] / scaling.Factor + smooth * inv[j];
            }
        }
        return inv;
    }
}
