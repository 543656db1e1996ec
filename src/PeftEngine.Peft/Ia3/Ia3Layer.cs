// (IA)³ on a fully connected layer (Liu et al., NeurIPS 2022, arXiv 2205.05638). With the product l of the active
// adapters' vectors:
//
//     attention target (l: (out, 1)):     y = l ⊙ (x·Wᵀ + b)        merged: W' = diag(l)·W,  b' = l ⊙ b
//     feed-forward target (l: (1, in)):   y = (x ⊙ l)·Wᵀ + b        merged: W' = W·diag(l),  b' = b
//
// so merging scales the rows (outputs) or the columns (inputs) of W, and unmerging divides them again. For GPT-2's
// Conv1D the weight is stored (in, out) (fan_in_fan_out) and the roles of rows and columns swap.

using PeftEngine.Nn;
using PeftEngine.Peft.Tuners;
using PeftEngine.Quant;

namespace PeftEngine.Peft.Ia3;

/// <summary>(IA)³ around a <see cref="Linear"/>, a GPT-2 <see cref="Conv1D"/> or a frozen quantized linear layer
/// (<see cref="IQuantizedLinear"/>, e.g. a 4-bit base): one learned vector per adapter that scales the layer's output
/// (attention keys / values) or, for a feed-forward layer, its input.</summary>
/// <remarks>HF: peft.tuners.ia3.layer.Linear (children <c>base_layer</c>, <c>ia3_l</c> = ParameterDict of (out, 1) or
/// (1, in) vectors; merge multiplies, unmerge divides; the forward multiplies the active adapters' vectors).</remarks>
public sealed class Ia3Layer : Module, ITunerLayer
{
    private readonly PeftRuntime _runtime;
    private readonly List<string> _merged = new();
    private List<string> _active = new();

    /// <summary>Wraps <paramref name="baseLayer"/> (a Linear or Conv1D), which this layer now owns.</summary>
    public Ia3Layer(Module baseLayer, bool isFeedforward, PeftRuntime runtime)
    {
        (InFeatures, OutFeatures, FanInFanOut) = baseLayer switch
        {
            Linear l => (l.InFeatures, l.OutFeatures, false),
            Conv1D c => (c.InFeatures, c.OutFeatures, true),
            IQuantizedLinear q => (q.InFeatures, q.OutFeatures, false),
            _ => throw new ArgumentException($"IA3: expected a Linear, Conv1D or quantized linear layer to wrap, got {baseLayer.GetType().Name}"),
        };
        IsFeedforward = isFeedforward;
        _runtime = runtime;
        RegisterModule("base_layer", baseLayer);
        RegisterModule("ia3_l", new AdapterParameterDict());
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>True when the base weight is stored (in, out) (Conv1D).</summary>
    public bool FanInFanOut { get; }

    /// <summary>True when the vectors scale the input (a feed-forward layer) rather than the output.</summary>
    public bool IsFeedforward { get; }

    /// <summary>The scaling vectors per adapter: (1, in) for a feed-forward layer, else (out, 1).</summary>
    public AdapterParameterDict Vectors => (AdapterParameterDict)GetChild("ia3_l");

    /// <inheritdoc/>
    public Module BaseLayer => GetChild("base_layer");

    private Parameter Weight => BaseLayer is Linear l ? l.Weight : ((Conv1D)BaseLayer).Weight;

    private Parameter? Bias => BaseLayer switch { Linear l => l.Bias, Conv1D c => c.Bias, IQuantizedLinear q => q.Bias, _ => null };

    /// <summary>The dtype the base layer takes its input in (F32 for a quantized base).</summary>
    private DType BaseDType => BaseLayer is IQuantizedLinear ? DType.F32 : Weight.DType;

    /// <inheritdoc/>
    public IReadOnlyList<string> AdapterNames => Vectors.Keys;

    /// <inheritdoc/>
    public IReadOnlyList<string> ActiveAdapters { get => _active; set => _active = value.ToList(); }

    /// <inheritdoc/>
    public bool Disabled { get; set; }

    /// <inheritdoc/>
    public IReadOnlyList<string> MergedAdapters => _merged;

    /// <summary>Adds the vector of <paramref name="adapter"/>: ones, or N(0, 1) samples when
    /// <paramref name="initOnes"/> is false.</summary>
    public void AddAdapter(string adapter, bool initOnes, Generator? generator)
    {
        if (Vectors.ContainsKey(adapter)) throw new ArgumentException($"IA3 layer: adapter \"{adapter}\" already exists");
        var shape = IsFeedforward ? new Shape(1, InFeatures) : new Shape(OutFeatures, 1);
        var l = initOnes ? Tensor.Ones(shape) : Tensor.Randn(shape, generator);
        Vectors.Add(adapter, new Parameter(l));
    }

    // ------------------------------------------------------------------ forward

    /// <summary>The product of the vectors of <paramref name="adapters"/> as a flat (n) F32 tensor, or null when
    /// none of them has a vector here.</summary>
    private Tensor? Scaling(IEnumerable<string> adapters)
    {
        Tensor? product = null;
        foreach (var a in adapters)
        {
            if (!Vectors.ContainsKey(a)) continue;
            var flat = Ops.Flatten(Vectors[a], 0, -1);                 // (out, 1) or (1, in) -> (n)
            if (product is null) { product = flat; continue; }
            using (flat)
            using (var old = product)
                product = Ops.Mul(old, flat);
        }
        return product;
    }

    /// <summary>The base layer run with the vectors of <paramref name="adapters"/> applied.</summary>
    private Tensor AdaptedForward(Tensor x, IEnumerable<string> adapters)
    {
        using var l = Scaling(adapters);
        if (l is null) return BaseLayer.Forward(x);
        if (IsFeedforward)
        {
            using var xf = MaybeOwned.Cast(x, DType.F32);
            using var scaled = Ops.Mul(xf.Value, l);                     // (..., in) ⊙ (in)
            using var cast = MaybeOwned.Cast(scaled, BaseDType);
            return BaseLayer.Forward(cast.Value);
        }
        using var result = BaseLayer.Forward(x);
        using var rf = MaybeOwned.Cast(result, DType.F32);
        var y = Ops.Mul(rf.Value, l);                                   // (..., out) ⊙ (out)
        if (y.DType == result.DType) return y;
        using (y) return Ops.Cast(y, result.DType);
    }

    /// <summary>The base output scaled by the active adapters (the base output alone when disabled or merged).</summary>
    public override Tensor Forward(Tensor x)
    {
        if (Disabled)
        {
            if (_merged.Count > 0) Unmerge();
            return BaseLayer.Forward(x);
        }
        if (_runtime.SampleAdapters is not null) return MixedBatchForward(x);
        if (_merged.Count > 0) return BaseLayer.Forward(x);
        return AdaptedForward(x, _active);
    }

    /// <summary>Each sample with its own adapter: the rows of an adapter are recomputed with its vector alone.</summary>
    private Tensor MixedBatchForward(Tensor x)
    {
        if (IsTraining) throw new InvalidOperationException("Cannot pass `adapter_names` when the model is in training mode.");
        if (_merged.Count > 0) throw new InvalidOperationException("Cannot pass `adapter_names` when there are merged adapters, please call `unmerge_adapter` first.");
        _runtime.CheckBatch(x, "IA3 layer");
        var result = BaseLayer.Forward(x);
        _runtime.ReplacePerGroup(x, result, Vectors.ContainsKey, (name, sub) => AdaptedForward(sub, [name]));
        return result;
    }

    // ------------------------------------------------------------------ merging

    /// <summary>The vector of <paramref name="adapter"/> shaped to broadcast against the stored weight: (out, 1) or
    /// (1, in) for a Linear, transposed for a Conv1D (HF transpose(ia3_l, fan_in_fan_out)).</summary>
    private Tensor WeightFactor(string adapter)
    {
        var l = Vectors[adapter].Data;
        if (!FanInFanOut) return Ops.Contiguous(l);
        using var t = Ops.Transpose(l, 0, 1);                          // (out, 1) -> (1, out) or (1, in) -> (in, 1)
        return Ops.Contiguous(t);
    }

    /// <summary>The divisor that undoes <paramref name="adapter"/>: its vector with exact zeros replaced by 1e-8 (a
    /// zeroed row cannot be recovered; HF divides by l + 1e-8 everywhere).</summary>
    private Tensor WeightDivisor(string adapter)
    {
        using var f = WeightFactor(adapter);
        var values = f.ToFloatArray().Select(v => v == 0 ? 1e-8f : v).ToArray();
        return Tensor.FromArray(values, f.Shape.ToArray());
    }

    /// <summary>The F32 weight and bias after multiplying (or dividing) by the vector of <paramref name="adapter"/>.</summary>
    private (Tensor Weight, Tensor? Bias) Scaled(Tensor weight, Tensor? bias, string adapter, bool divide)
    {
        using var factor = divide ? WeightDivisor(adapter) : WeightFactor(adapter);
        var w = divide ? Ops.Div(weight, factor) : Ops.Mul(weight, factor);
        if (bias is null || IsFeedforward) return (w, bias is null ? null : Ops.Clone(bias));
        using var flat = Ops.Flatten(factor, 0, -1);                   // (out)
        return (w, divide ? Ops.Div(bias, flat) : Ops.Mul(bias, flat));
    }

    /// <summary>The base weight and bias in F32 (a quantized weight dequantized).</summary>
    private (Tensor Weight, Tensor? Bias) ReadBase() =>
        (BaseLayer is IQuantizedLinear q ? q.Dequantize() : Ops.Cast(Weight, DType.F32), Bias is { } b ? Ops.Cast(b, DType.F32) : null);

    /// <summary>Writes a new F32 weight and bias into the base (a quantized weight is quantized again, so merging
    /// into a 4-bit base rounds to its grid).</summary>
    private void WriteBase(Tensor weight, Tensor? bias)
    {
        if (BaseLayer is IQuantizedLinear q) q.Requantize(weight);
        else
            using (var w = Ops.Cast(weight, Weight.DType)) Ops.CopyInPlace(Weight, w);
        if (bias is not null && Bias is { } b)
            using (var c = Ops.Cast(bias, b.DType)) Ops.CopyInPlace(b, c);
    }

    /// <inheritdoc/>
    public void CheckMergeIsFinite(IReadOnlyList<string> adapters)
    {
        using var _ = GradMode.Disable();
        var (w, b) = ReadBase();
        try
        {
            foreach (var a in adapters.Where(a => Vectors.ContainsKey(a) && !_merged.Contains(a)))
            {
                var (nw, nb) = Scaled(w, b, a, divide: false);
                w.Dispose();
                b?.Dispose();
                (w, b) = (nw, nb);
                if (!AllFinite(w) || (b is not null && !AllFinite(b)))
                    throw new ArgumentException($"NaNs detected in the merged weights. The adapter {a} seems to be broken");
            }
        }
        finally
        {
            w.Dispose();
            b?.Dispose();
        }
    }

    /// <inheritdoc/>
    public void Merge(IReadOnlyList<string> adapters, bool safeMerge)
    {
        var todo = adapters.Where(a => Vectors.ContainsKey(a) && !_merged.Contains(a)).ToList();
        if (todo.Count == 0) return;
        if (safeMerge) CheckMergeIsFinite(todo);
        using var _ = GradMode.Disable();
        foreach (var a in todo)
        {
            var (w, b) = ReadBase();
            var (nw, nb) = Scaled(w, b, a, divide: false);
            w.Dispose();
            b?.Dispose();
            using (nw)
            using (nb)
                WriteBase(nw, nb);
            _merged.Add(a);
        }
    }

    /// <inheritdoc/>
    public void Unmerge()
    {
        using var _ = GradMode.Disable();
        while (_merged.Count > 0)
        {
            string a = _merged[^1];
            var (w, b) = ReadBase();
            var (nw, nb) = Scaled(w, b, a, divide: true);
            w.Dispose();
            b?.Dispose();
            using (nw)
            using (nb)
                WriteBase(nw, nb);
            _merged.RemoveAt(_merged.Count - 1);
        }
    }

    private static bool AllFinite(Tensor t) => t.ToFloatArray().All(float.IsFinite);

    // ------------------------------------------------------------------ adapter bookkeeping

    /// <inheritdoc/>
    public void DeleteAdapter(string adapter)
    {
        if (!Vectors.ContainsKey(adapter)) return;
        if (_merged.Contains(adapter)) throw new InvalidOperationException($"IA3: cannot delete adapter \"{adapter}\" while it is merged; unmerge first");
        Vectors.Remove(adapter);
        _active.Remove(adapter);
    }

    /// <inheritdoc/>
    public void SetAdapterRequiresGrad(string adapter, bool requiresGrad)
    {
        if (Vectors.ContainsKey(adapter)) Vectors[adapter].RequiresGrad = requiresGrad;
    }

    /// <inheritdoc/>
    public IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter) =>
        Vectors.ContainsKey(adapter) ? [("ia3_l." + adapter, Vectors[adapter])] : [];

    /// <inheritdoc/>
    public Module ReleaseBaseLayer() => RemoveModule("base_layer");

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"feedforward={IsFeedforward}, adapters=[{string.Join(", ", AdapterNames)}]";
}
