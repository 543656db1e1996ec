using PeftEngine.IO;

namespace PeftEngine.Models;

/// <summary>
/// The rotary position tables of a LLaMA-family model: cos and sin of p · f_k for positions p and the
/// inverse frequencies f_k (rope_theta^(-2k/D), with the config's rope scaling applied, e.g. llama3's).
/// Tables are built on first use for the positions needed (doubling), per dtype and device, so a 128k-context config does
/// not allocate 128k rows up front.
/// </summary>
/// <remarks>HF: LlamaRotaryEmbedding (inv_freq from ROPE_INIT_FUNCTIONS; HF evaluates the angles in float32,
/// here in double). Applied rotate-half style (HF's apply_rotary_pos_emb) by <see cref="Ops.ApplyRotary"/>.</remarks>
public sealed class LlamaRotaryEmbedding : IDisposable
{
    private readonly Dictionary<(DType, Device), (Tensor Cos, Tensor Sin)> _tables = [];
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
        var (cos, sin) = Tables(x.DType, x.Device, offset + x.Shape[-2]);
        return Ops.ApplyRotary(x, cos, sin, offset);
    }

    /// <summary>Rotates x (B, n, T, D) with a position per row and step, <paramref name="positionIds"/> (B, T) I64
    /// (left-padded batches in generation, where each row counts its positions from its first real token).</summary>
    /// <remarks>HF: apply_rotary_pos_emb with cos/sin gathered at position_ids. Composed of differentiable ops:
    /// (x1, x2) -> (x1·cos - x2·sin, x2·cos + x1·sin) on the two halves of D.</remarks>
    public Tensor Apply(Tensor x, Tensor positionIds)
    {
        int b = x.Shape[0], t = x.Shape[2], d = x.Shape[3], half = InverseFrequencies.Length;
        if (positionIds.Rank != 2 || positionIds.Shape[0] != b || positionIds.Shape[1] != t || positionIds.DType != DType.I64)
            throw new ArgumentException($"LlamaRotaryEmbedding: position ids must be (B = {b}, T = {t}) i64, got {positionIds.DType.Name()} {positionIds.Shape}");
        if (d != 2 * half) throw new ArgumentException($"LlamaRotaryEmbedding: head dim {d} must be twice the {half} frequencies");
        long max = (long)positionIds.ToDoubleArray().DefaultIfEmpty(0).Max();
        var (cos, sin) = Tables(x.DType, x.Device, (int)max + 1);
        using var cosRows = Ops.Embedding(cos, positionIds);           // (B, T) -> (B, T, D/2)
        using var sinRows = Ops.Embedding(sin, positionIds);
        using var c = Ops.Unsqueeze(cosRows, 1);                       // (B, T, D/2) -> (B, 1, T, D/2)
        using var sn = Ops.Unsqueeze(sinRows, 1);
        using var x1 = Ops.Narrow(x, 3, 0, half);                      // (B, n, T, D/2)
        using var x2 = Ops.Narrow(x, 3, half, half);
        using var a1 = Ops.Mul(x1, c);
        using var b1 = Ops.Mul(x2, sn);
        using var y1 = Ops.Sub(a1, b1);                                // x1·cos - x2·sin
        using var a2 = Ops.Mul(x2, c);
        using var b2 = Ops.Mul(x1, sn);
        using var y2 = Ops.Add(a2, b2);                                // x2·cos + x1·sin
        return Ops.Cat([y1, y2], 3);                                   // (B, n, T, D)
    }

    private (Tensor Cos, Tensor Sin) Tables(DType dtype, Device device, int positions)
    {
        if (positions > MaxPositions)
            throw new ArgumentException($"LlamaRotaryEmbedding: position {positions - 1} is beyond max_position_embeddings {MaxPositions}");
        lock (_lock)
        {
            if (_tables.TryGetValue((dtype, device), out var t) && t.Cos.Shape[0] >= positions) return t;
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
            var made = (Table(cos, rows, half, dtype, device), Table(sin, rows, half, dtype, device));
            _tables[(dtype, device)] = made;
            return made;
        }
    }

    private static Tensor Table(double[] values, int rows, int half, DType dtype, Device device)
    {
        using var t = Tensor.FromArray(values, rows, half);   // (P, D/2)
        using var typed = dtype == DType.F64 ? t.Alias() : Ops.Cast(t, dtype);
        return TensorScope.Detach(device == typed.Device ? typed.Alias() : typed.To(device));
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
