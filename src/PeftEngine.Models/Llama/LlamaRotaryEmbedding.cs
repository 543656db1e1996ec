using PeftEngine.IO;

namespace PeftEngine.Models;

/// <summary>
/// The rotary position tables of a LLaMA-family model: cos and sin of p · f_k for positions p and the
/// inverse frequencies f_k (rope_theta^(-2k/D), with the config's rope scaling applied, e.g. llama3's).
/// Tables are built on first use for the positions needed (doubling), per dtype, so a 128k-context config does
/// not allocate 128k rows up front.
/// </summary>
/// <remarks>HF: LlamaRotaryEmbedding (inv_freq from ROPE_INIT_FUNCTIONS; HF evaluates the angles in float32,
/// here in double). Applied rotate-half style (HF's apply_rotary_pos_emb) by <see cref="Ops.ApplyRotary"/>.</remarks>
public sealed class LlamaRotaryEmbedding : IDisposable
{
    private readonly Dictionary<DType, (Tensor Cos, Tensor Sin)> _tables = [];
    private readonly object _lock = new();

    /// <summary>Tables for the given inverse frequencies (one per pair of features: D/2 values).</summary>
    public LlamaRotaryEmbedding(double[] inverseFrequencies, int maxPositions)
    {
        ArgumentNullException.ThrowIfNull(inverseFrequencies);
        if (inverseFrequencies.Length == 0) throw new ArgumentException("LlamaRotaryEmbedding: no inverse frequencies");
        InverseFrequencies = inverseFrequencies;
        MaxPositions = maxPositions;
    }

    /// <summary>Tables from a config: head_dim, rope_theta and rope_scaling.</summary>
    public static LlamaRotaryEmbedding FromConfig(RopeDecoderConfig config) =>
        new(config.RopeInverseFrequencies(), config.MaxPositionEmbeddings);

    /// <summary>f_k, k &lt; D/2.</summary>
    public double[] InverseFrequencies { get; }

    /// <summary>The positions the model accepts (max_position_embeddings).</summary>
    public int MaxPositions { get; }

    /// <summary>Rotates x (B, n, T, D) as positions <paramref name="offset"/> .. offset + T - 1.</summary>
    public Tensor Apply(Tensor x, int offset)
    {
        var (cos, sin) = Tables(x.DType, offset + x.Shape[-2]);
        return Ops.ApplyRotary(x, cos, sin, offset);
    }

    private (Tensor Cos, Tensor Sin) Tables(DType dtype, int positions)
    {
        if (positions > MaxPositions)
            throw new ArgumentException($"LlamaRotaryEmbedding: position {positions - 1} is beyond max_position_embeddings {MaxPositions}");
        lock (_lock)
        {
            if (_tables.TryGetValue(dtype, out var t) && t.Cos.Shape[0] >= positions) return t;
            int rows = Math.Min(MaxPositions, Math.Max(positions, Math.Max(64, 2 * (t.Cos?.Shape[0] ?? 0))));
            if (t.Cos is not null) { t.Cos.Dispose(); t.Sin.Dispose(); }
            int half = InverseFrequencies.Length;
            var cos = new double[(long)rows * half];
            var sin = new double[cos.Length];
            for (int p = 0; p < rows; p++)
                for (int k = 0; k < half; k++)
                {
                    double angle = p * InverseFrequencies[k];
                    cos[(long)p * half + k] = Math.Cos(angle);
                    sin[(long)p * half + k] = Math.Sin(angle);
                }
            var made = (Table(cos, rows, half, dtype), Table(sin, rows, half, dtype));
            _tables[dtype] = made;
            return made;
        }
    }

    private static Tensor Table(double[] values, int rows, int half, DType dtype)
    {
        using var t = Tensor.FromArray(values, rows, half);   // (P, D/2)
        return TensorScope.Detach(dtype == DType.F64 ? t.Alias() : Ops.Cast(t, dtype));
    }

    /// <summary>Frees the tables.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var (cos, sin) in _tables.Values) { cos.Dispose(); sin.Dispose(); }
            _tables.Clear();
        }
    }
}
