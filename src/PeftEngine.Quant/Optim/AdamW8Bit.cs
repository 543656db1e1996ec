using PeftEngine.Cpu;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;

namespace PeftEngine.Quant;

/// <summary>
/// AdamW with its two moments stored in 8 bits, as bitsandbytes' <c>AdamW8bit</c>: each parameter's m and v are cut
/// into blocks of <see cref="BlockSize"/> elements (2048) and kept as one byte per element, an index into the
/// dynamic code (signed for m, unsigned for v, <see cref="DynamicMap"/>), plus one F32 absmax per block. About
/// 2 bytes of state per parameter instead of 8. Each step, per block:
/// <code>
/// m ← code₁[c₁]·absmax₁,  v ← code₂[c₂]·absmax₂                    (dequantize)
/// m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²
/// p ← p − lr · √(1 − β₂ᵗ)/(1 − β₁ᵗ) · m / (√v + √(1 − β₂ᵗ)·ε)   (= lr · m̂ / (√v̂ + ε))
/// p ← p · (1 − lr·wd)                                              (when wd > 0)
/// absmax ← max |m| (resp. |v|) over the block; c ← the nearest code to m / absmax   (requantize)
/// </code>
/// The update uses the moments before they are rounded; a code for m whose sign differs from m's is moved one step
/// towards the right sign. Parameters with fewer than <see cref="MinEightBitSize"/> elements (4096) keep F32 moments
/// and take the same update. All arithmetic is F32.
/// </summary>
/// <remarks>bitsandbytes: <c>bnb.optim.AdamW8bit(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
/// min_8bit_size=4096, block_wise=True)</c> (kernel kOptimizerStatic8bit2StateBlockwise; state names state1, state2,
/// absmax1, absmax2). As in those kernels the decay multiplies the weight after the Adam step, where PyTorch's AdamW
/// decays first (a difference of lr²·wd·update). F32 parameters on the CPU; no percentile clipping.
/// Dettmers et al. 2022, "8-bit Optimizers via Block-wise Quantization".</remarks>
public sealed unsafe class AdamW8Bit : Optimizer
{
    /// <summary>The default elements per quantization block.</summary>
    public const int DefaultBlockSize = 2048;

    /// <summary>The default size below which a parameter keeps F32 moments.</summary>
    public const int DefaultMinEightBitSize = 4096;

    private const int SignedZero = 127;    // index of 0 in the signed dynamic code
    private const int UnsignedZero = 0;    // index of 0 in the unsigned one

    /// <summary>One group over <paramref name="parameters"/>.</summary>
    public AdamW8Bit(IEnumerable<Parameter> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null,
        double eps = 1e-8, double weightDecay = 0.01, int blockSize = DefaultBlockSize, int minEightBitSize = DefaultMinEightBitSize)
        : this([new ParamGroup(parameters)], lr, betas, eps, weightDecay, blockSize, minEightBitSize) { }

    /// <summary>Several groups; unset group values take these defaults.</summary>
    public AdamW8Bit(IEnumerable<ParamGroup> groups, double lr = 1e-3, (double Beta1, double Beta2)? betas = null,
        double eps = 1e-8, double weightDecay = 0.01, int blockSize = DefaultBlockSize, int minEightBitSize = DefaultMinEightBitSize)
        : base(groups, lr, weightDecay)
    {
        var (b1, b2) = AdamHyperparameters.Check("AdamW8Bit", betas, eps);
        if (blockSize < 64 || blockSize > 4096)
            throw new ArgumentOutOfRangeException(nameof(blockSize), $"AdamW8Bit: the block size must lie in [64, 4096], got {blockSize}");
        if (minEightBitSize < 0)
            throw new ArgumentOutOfRangeException(nameof(minEightBitSize), $"AdamW8Bit: min_8bit_size must be >= 0, got {minEightBitSize}");
        foreach (var g in ParamGroups)
            foreach (var p in g.Parameters)
                if (p.DType != DType.F32)
                    throw new ArgumentException($"AdamW8Bit: parameters must be F32, got a {p.Shape} {p.DType.Name()} parameter");
        Beta1 = b1;
        Beta2 = b2;
        Eps = eps;
        BlockSize = blockSize;
        MinEightBitSize = minEightBitSize;
    }

    /// <summary>Decay of the first moment.</summary>
    public double Beta1 { get; }

    /// <summary>Decay of the second moment.</summary>
    public double Beta2 { get; }

    /// <summary>Added to the denominator.</summary>
    public double Eps { get; }

    /// <summary>Elements sharing one absmax.</summary>
    public int BlockSize { get; }

    /// <summary>Parameters with fewer elements keep F32 moments (bitsandbytes' min_8bit_size).</summary>
    public int MinEightBitSize { get; }

    /// <summary>True when a parameter of <paramref name="numel"/> elements gets 8-bit moments.</summary>
    public bool IsEightBit(long numel) => numel >= MinEightBitSize;

    /// <inheritdoc/>
    protected override void Update(ParamGroup group, Tensor param, Tensor grad, ParamState state)
    {
        if (!param.Device.IsHost || !param.IsContiguous)
            throw new NotSupportedException($"AdamW8Bit: parameters must be contiguous and in host memory, got {param.Shape} on {param.Device}");
        if (!grad.Device.IsHost)
            throw new NotSupportedException($"AdamW8Bit: gradients must be in host memory, got {grad.Shape} on {grad.Device}");
        using var g = Ops.Contiguous(grad);   // a view when already contiguous (the step runs without gradient recording)
        long t = state.Step;
        var h = new Hyper
        {
            Lr = (float)group.Lr, Decay = (float)group.WeightDecay, Beta1 = (float)Beta1, Beta2 = (float)Beta2,
            Correction2 = MathF.Sqrt(1f - MathF.Pow((float)Beta2, t)), Eps = (float)Eps,
        };
        h.StepSize = -h.Lr * h.Correction2 / (1f - MathF.Pow((float)Beta1, t));
        float* p = param.HostStorage.Ptr<float>(param.Offset);
        float* gp = g.HostStorage.Ptr<float>(g.Offset);
        long n = param.Shape.Numel;
        if (!IsEightBit(n))
        {
            var m = State(state, "state1", param.Shape, DType.F32);
            var v = State(state, "state2", param.Shape, DType.F32);
            float* mp = m.HostStorage.Ptr<float>(m.Offset), vp = v.HostStorage.Ptr<float>(v.Offset);
            for (long i = 0; i < n; i++) Element(ref p[i], gp[i], ref mp[i], ref vp[i], h);
            return;
        }
        int blocks = checked((int)((n + BlockSize - 1) / BlockSize));
        var c1 = State(state, "state1", param.Shape, DType.U8);
        var c2 = State(state, "state2", param.Shape, DType.U8);
        var a1 = State(state, "absmax1", new Shape(blocks), DType.F32);
        var a2 = State(state, "absmax2", new Shape(blocks), DType.F32);
        byte* c1p = c1.HostStorage.Ptr<byte>(c1.Offset), c2p = c2.HostStorage.Ptr<byte>(c2.Offset);
        float* a1p = a1.HostStorage.Ptr<float>(a1.Offset), a2p = a2.HostStorage.Ptr<float>(a2.Offset);
        int size = BlockSize;
        CpuParallel.For(blocks, size * 40L, (b0, b1) =>
        {
            Span<float> m = stackalloc float[size], v = stackalloc float[size];
            for (long b = b0; b < b1; b++)
            {
                long start = b * size;
                int count = (int)Math.Min(size, n - start);
                UpdateBlock(new Span<float>(p + start, count), new ReadOnlySpan<float>(gp + start, count),
                    new Span<byte>(c1p + start, count), new Span<byte>(c2p + start, count), ref a1p[b], ref a2p[b],
                    m[..count], v[..count], h);
            }
        });
    }

    /// <summary>One block: dequantize, update the moments and the weights, requantize.</summary>
    private static void UpdateBlock(Span<float> p, ReadOnlySpan<float> g, Span<byte> c1, Span<byte> c2, ref float absmax1,
        ref float absmax2, Span<float> m, Span<float> v, in Hyper h)
    {
        var code1 = DynamicMap.Values;
        var code2 = DynamicMap.UnsignedValues;
        float max1 = 0, max2 = 0;
        for (int i = 0; i < p.Length; i++)
        {
            m[i] = code1[c1[i]] * absmax1;
            v[i] = code2[c2[i]] * absmax2;
            Element(ref p[i], g[i], ref m[i], ref v[i], h);
            max1 = MathF.Max(max1, MathF.Abs(m[i]));
            max2 = MathF.Max(max2, MathF.Abs(v[i]));
        }
        absmax1 = max1;
        absmax2 = max2;
        for (int i = 0; i < p.Length; i++)
        {
            c1[i] = max1 > 0 ? SignedCode(code1, m[i] / max1, m[i]) : (byte)SignedZero;
            c2[i] = max2 > 0 ? (byte)DynamicMap.Nearest(code2, v[i] / max2) : (byte)UnsignedZero;
        }
    }

    /// <summary>The nearest signed code to <paramref name="x"/>, moved one step when its sign is not the moment's
    /// (so a small negative moment never turns into +0 and back into a positive one).</summary>
    private static byte SignedCode(ReadOnlySpan<float> code, float x, float moment)
    {
        int c = DynamicMap.Nearest(code, x);
        if (float.IsNegative(code[c]) != float.IsNegative(moment)) c += moment > 0 ? 1 : -1;
        return (byte)c;
    }

    /// <summary>The Adam step of one element, in F32 as the kernel computes it.</summary>
    private static void Element(ref float p, float g, ref float m, ref float v, in Hyper h)
    {
        m = m * h.Beta1 + (1f - h.Beta1) * g;
        v = v * h.Beta2 + (1f - h.Beta2) * (g * g);
        p += h.StepSize * (m / (MathF.Sqrt(v) + h.Correction2 * h.Eps));
        if (h.Decay > 0) p *= 1f - h.Lr * h.Decay;
    }

    /// <summary>The state tensor <paramref name="name"/>, created as zeros on first use.</summary>
    private static Tensor State(ParamState state, string name, Shape shape, DType dtype)
    {
        if (!state.Tensors.TryGetValue(name, out var t))
            state.Tensors[name] = t = TensorScope.Detach(Tensor.Zeros(shape, dtype));   // outlives the step's scope
        return t;
    }

    /// <summary>Saved state must have the layout this optimizer creates: state1/state2 of the parameter's shape (U8
    /// codes, or F32 below <see cref="MinEightBitSize"/>) and F32 absmax1/absmax2 with one value per block.</summary>
    protected override void CheckSavedState(string name, Tensor saved, Parameter parameter, int index)
    {
        long n = parameter.Shape.Numel;
        bool eightBit = IsEightBit(n);
        (Shape Shape, DType DType)? want = name switch
        {
            "state1" or "state2" => (parameter.Shape, eightBit ? DType.U8 : DType.F32),
            "absmax1" or "absmax2" when eightBit => (new Shape((int)((n + BlockSize - 1) / BlockSize)), DType.F32),
            _ => null,
        };
        if (want is null)
            throw new ArgumentException($"AdamW8Bit.LoadStateDict: unknown state \"{name}\" for parameter {index} {parameter.Shape} (expected state1, state2{(eightBit ? ", absmax1, absmax2" : "")})");
        if (saved.Shape != want.Value.Shape || saved.DType != want.Value.DType)
            throw new ArgumentException($"AdamW8Bit.LoadStateDict: state \"{name}\" of parameter {index} is {saved.Shape} {saved.DType.Name()}, expected {want.Value.Shape} {want.Value.DType.Name()} (block size {BlockSize})");
    }

    /// <summary>The step's constants in F32.</summary>
    private struct Hyper
    {
        public float Lr, Decay, Beta1, Beta2, Correction2, Eps, StepSize;
    }
}
