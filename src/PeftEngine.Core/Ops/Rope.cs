namespace PeftEngine;

/// <summary>
/// Rotary position embeddings (RoPE; Su et al. 2021, "RoFormer"): each pair of features of a query or key at
/// position p is rotated by the angle p θ_k, so that the dot product of a query and a key depends only on the
/// distance between their positions.
/// </summary>
/// <remarks>
/// θ_k = base^(-2k / R) for pair k of a rotary width R (usually the head dimension). Forward rotates each pair
/// (a, b) to (a cos - b sin, a sin + b cos); backward rotates the gradient by -θ (the transpose of a rotation).
/// The tables hold cos and sin of p θ_k for k &lt; R/2 and serve both pair conventions (<see cref="RopeStyle"/>).
/// </remarks>
public static partial class Ops
{
    /// <summary>
    /// The cosine and sine tables, each (maxPositions, rotaryDim / 2), of angle p * theta^(-2k / rotaryDim).
    /// </summary>
    /// <remarks>HF: the inv_freq and cos/sin cache of LlamaRotaryEmbedding (which stores the angles twice,
    /// as cat(freqs, freqs); here each angle is stored once). Angles are computed in double.</remarks>
    public static (Tensor Cos, Tensor Sin) RotaryTables(int rotaryDim, int maxPositions, double theta = 10000,
        DType dtype = DType.F32, Device? device = null)
    {
        if (rotaryDim <= 0 || rotaryDim % 2 != 0)
            throw new ArgumentException($"RotaryTables: rotary dimension {rotaryDim} must be positive and even");
        if (maxPositions <= 0) throw new ArgumentException($"RotaryTables: maxPositions {maxPositions} must be positive");
        if (!dtype.IsCompute()) throw new ArgumentException($"RotaryTables: tables must be f32 or f64, not {dtype.Name()}");
        int half = rotaryDim / 2;
        var cos = new double[(long)maxPositions * half];
        var sin = new double[cos.Length];
        for (int k = 0; k < half; k++)
        {
            double frequency = Math.Pow(theta, -2.0 * k / rotaryDim);
            for (int p = 0; p < maxPositions; p++)
            {
                double angle = p * frequency;
                cos[(long)p * half + k] = Math.Cos(angle);
                sin[(long)p * half + k] = Math.Sin(angle);
            }
        }
        return (TableTensor(cos, maxPositions, half, dtype, device), TableTensor(sin, maxPositions, half, dtype, device));
    }

    /// <summary>
    /// Rotates x (…, T, D) by position: row t uses table row <paramref name="positionOffset"/> + t. The tables
    /// (P, R/2) rotate the first R features (R ≤ D, the rest pass through). Gradients flow to x only.
    /// </summary>
    /// <remarks>HF: apply_rotary_pos_emb with <see cref="RopeStyle.RotateHalf"/> (q of shape (B, nh, T, hs));
    /// GPT-J / Meta llama: <see cref="RopeStyle.Interleaved"/>. With a KV cache, positionOffset is the number
    /// of positions already cached.</remarks>
    public static Tensor ApplyRotary(Tensor x, Tensor cos, Tensor sin, int positionOffset = 0, RopeStyle style = RopeStyle.RotateHalf)
    {
        x.ThrowIfDisposed();
        cos.ThrowIfDisposed();
        sin.ThrowIfDisposed();
        DTypes.RequireCompute(x, "ApplyRotary");
        CheckSameDevice(x, cos, "ApplyRotary");
        CheckSameDevice(x, sin, "ApplyRotary");
        if (x.Rank < 2) throw new ArgumentException($"ApplyRotary: x must be (…, T, D), got {x.Shape}");
        if (cos.Rank != 2 || cos.Shape != sin.Shape)
            throw new ArgumentException($"ApplyRotary: cos {cos.Shape} and sin {sin.Shape} must be equal (positions, rotary/2) tables");
        if (cos.DType != x.DType || sin.DType != x.DType)
            throw new ArgumentException($"ApplyRotary: tables are {cos.DType.Name()}/{sin.DType.Name()} but x is {x.DType.Name()}; cast them with .To(dtype)");
        if (cos.RequiresGrad || sin.RequiresGrad)
            throw new ArgumentException("ApplyRotary: the cos/sin tables are constants and cannot require a gradient");
        int t = x.Shape[-2], d = x.Shape[-1], half = cos.Shape[1];
        if (2 * half > d)
            throw new ArgumentException($"ApplyRotary: tables rotate {2 * half} features but x {x.Shape} has only {d}");
        if (positionOffset < 0 || positionOffset + t > cos.Shape[0])
            throw new ArgumentOutOfRangeException(nameof(positionOffset), $"ApplyRotary: positions {positionOffset}..{positionOffset + t - 1} are outside the tables of {cos.Shape[0]} positions");

        using var xc = ContiguousNoGrad(x);
        using var cc = ContiguousNoGrad(cos);
        using var sc = ContiguousNoGrad(sin);
        var y = Tensor.EmptyLike(xc);
        x.Backend.Rotary(xc, cc, sc, positionOffset, style, inverse: false, y);
        if (Graph.IsRecording(x)) Graph.Attach(y, new RotaryNode(cc, sc, positionOffset, style), x);
        return y;
    }

    private static Tensor TableTensor(double[] values, int positions, int half, DType dtype, Device? device)
    {
        using var t = Tensor.FromArray(values, positions, half);
        using var cast = dtype == DType.F64 ? t.Alias() : Cast(t, dtype);
        return ToDevice(cast, device ?? Device.Cpu);
    }

    private sealed class RotaryNode : GradNode
    {
        private readonly SavedTensor _cos, _sin;
        private readonly int _offset;
        private readonly RopeStyle _style;

        public RotaryNode(Tensor cos, Tensor sin, int offset, RopeStyle style)
        {
            _cos = Save(cos);
            _sin = Save(sin);
            _offset = offset;
            _style = style;
        }

        public override Tensor?[] Backward(Tensor g)
        {
            // dx = R(-θ) g
            using var gc = ContiguousNoGrad(g);
            var dx = Tensor.EmptyLike(gc);
            g.Backend.Rotary(gc, _cos.Value, _sin.Value, _offset, _style, inverse: true, dx);
            return [dx];
        }
    }
}
