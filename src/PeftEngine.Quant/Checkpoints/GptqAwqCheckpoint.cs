using PeftEngine.IO.Safetensors;

namespace PeftEngine.Quant;

/// <summary>
/// A GPTQ or AWQ checkpoint seen as an ordinary state dict: each group <c>P.qweight</c>, <c>P.qzeros</c>,
/// <c>P.scales</c> (and GPTQ's <c>P.g_idx</c>) appears as one float32 tensor <c>P.weight</c>, dequantized when it is
/// loaded; every other tensor (embeddings, norms, biases, the output head) passes through unchanged. Model loaders
/// that read an <see cref="ITensorSource"/> therefore load these checkpoints without knowing about them.
/// </summary>
/// <remarks>HF: AutoModelForCausalLM.from_pretrained on a folder whose config.json has quantization_config.quant_method
/// "gptq" or "awq". transformers keeps the packed layers and dequantizes inside their kernels; here the weights are
/// dequantized once on load (optionally requantized afterwards with <see cref="ModelQuantizer"/>).</remarks>
public sealed class GptqAwqCheckpoint : ITensorSource
{
    private readonly ITensorSource _inner;
    private readonly string _file;
    private readonly DequantizedLayout _layout;
    private readonly Dictionary<string, string> _moduleOfWeight = new(StringComparer.Ordinal);   // "P.weight" -> "P"
    private readonly HashSet<string> _packedKeys = new(StringComparer.Ordinal);

    /// <summary>The checkpoint's quantization config.</summary>
    public GptqAwqConfig Config { get; }

    /// <summary>The module paths stored packed (e.g. <c>model.layers.0.self_attn.q_proj</c>).</summary>
    public IReadOnlyCollection<string> QuantizedModules => _moduleOfWeight.Values;

    /// <summary>
    /// Presents <paramref name="inner"/> (owned: disposed with the result) with its packed groups dequantized, as laid
    /// out by <paramref name="layout"/>. <paramref name="file"/> names the checkpoint in messages.
    /// </summary>
    public GptqAwqCheckpoint(ITensorSource inner, GptqAwqConfig config, string file, DequantizedLayout layout = DequantizedLayout.OutIn)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(file);
        config.Validate(file);
        _inner = inner;
        Config = config;
        _file = file;
        _layout = layout;
        foreach (var key in inner.Keys.Where(k => k.EndsWith(".qweight", StringComparison.Ordinal)).ToList())
        {
            string prefix = key[..^".qweight".Length];
            if (inner.Contains(prefix + ".weight"))
                throw new InvalidDataException($"{file}: {config.FormatName}: '{prefix}' has both a packed '{key}' and a plain '{prefix}.weight'");
            foreach (var part in new[] { ".qzeros", ".scales" })
                if (!inner.Contains(prefix + part))
                    throw new InvalidDataException($"{file}: {config.FormatName}: '{prefix}{part}' is missing; a packed weight needs qweight, qzeros and scales");
            _moduleOfWeight[prefix + ".weight"] = prefix;
            foreach (var part in config.IsGptq ? new[] { ".qweight", ".qzeros", ".scales", ".g_idx" } : [".qweight", ".qzeros", ".scales"])
                if (inner.Contains(prefix + part)) _packedKeys.Add(prefix + part);
        }
    }

    /// <summary>
    /// Wraps <paramref name="inner"/> when the config.json at <paramref name="configPath"/> declares a GPTQ or AWQ
    /// quantization; returns it unchanged otherwise. A checkpoint holding <c>.qweight</c> tensors without such a config
    /// is an error. On error <paramref name="inner"/> is disposed.
    /// </summary>
    public static ITensorSource Wrap(ITensorSource inner, string configPath, string file, DequantizedLayout layout = DequantizedLayout.OutIn)
    {
        ArgumentNullException.ThrowIfNull(inner);
        try
        {
            var config = File.Exists(configPath) ? GptqAwqConfig.FromConfigFile(configPath) : null;
            if (config is not null) return new GptqAwqCheckpoint(inner, config, file, layout);
            var packed = inner.Keys.FirstOrDefault(k => k.EndsWith(".qweight", StringComparison.Ordinal));
            if (packed is not null)
                throw new InvalidDataException($"{file}: '{packed}' is a packed GPTQ/AWQ weight, but '{configPath}' has no quantization_config with quant_method \"gptq\" or \"awq\" (bits and group_size are needed to read it)");
            return inner;
        }
        catch
        {
            inner.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public IEnumerable<string> Keys => _inner.Keys.Where(k => !_packedKeys.Contains(k)).Concat(_moduleOfWeight.Keys);

    /// <inheritdoc />
    public bool Contains(string name) => _moduleOfWeight.ContainsKey(name) || (!_packedKeys.Contains(name) && _inner.Contains(name));

    /// <summary>The stored entry of a plain tensor; for a packed weight, a float32 entry of the dequantized shape
    /// (its offsets are 0 and its byte length, as it has no bytes in the file).</summary>
    public SafetensorsTensorInfo Info(string name)
    {
        if (!_moduleOfWeight.TryGetValue(name, out var prefix))
            return _packedKeys.Contains(name) ? throw PackedPart(name) : _inner.Info(name);
        var (k, n) = Features(prefix);
        int[] shape = _layout == DequantizedLayout.OutIn ? [n, k] : [k, n];
        return new SafetensorsTensorInfo(name, SafetensorsDType.F32, shape, 0, 4L * k * n);
    }

    /// <summary>Loads a tensor; a packed weight is dequantized to float32, then cast to <paramref name="convertTo"/>.</summary>
    public Tensor Load(string name, DType? convertTo = null)
    {
        if (!_moduleOfWeight.TryGetValue(name, out var prefix))
            return _packedKeys.Contains(name) ? throw PackedPart(name) : _inner.Load(name, convertTo);
        var w = Dequantize(prefix);
        if (convertTo is not { } target || target == DType.F32) return w;
        using (w) return Ops.Cast(w, target);
    }

    /// <summary>
    /// True when <paramref name="key"/> is the bias of a packed module and every value is zero. Some AutoGPTQ versions
    /// save such a bias for every layer, including those of models without biases (LLaMA); a loader may ignore it
    /// when the model has no place for it, as transformers does.
    /// </summary>
    public bool IsZeroBias(string key)
    {
        if (!key.EndsWith(".bias", StringComparison.Ordinal) || !_moduleOfWeight.ContainsKey(key[..^".bias".Length] + ".weight") || !_inner.Contains(key))
            return false;
        using var bias = _inner.Load(key, DType.F32);
        return bias.ToArray<float>().All(v => v == 0f);
    }

    /// <summary>Dequantizes the module <paramref name="prefix"/> to float32.</summary>
    public Tensor Dequantize(string prefix)
    {
        if (!_moduleOfWeight.ContainsKey(prefix + ".weight"))
            throw new KeyNotFoundException($"{_file}: '{prefix}' is not a packed {Config.FormatName} module");
        using var qweight = _inner.Load(prefix + ".qweight");
        using var qzeros = _inner.Load(prefix + ".qzeros");
        using var scales = _inner.Load(prefix + ".scales");
        using var gIdx = Config.IsGptq && _inner.Contains(prefix + ".g_idx") ? _inner.Load(prefix + ".g_idx") : null;
        return Named(() => Config.IsGptq
            ? GptqDequantizer.Dequantize(prefix, qweight, qzeros, scales, gIdx, Config, _layout)
            : AwqDequantizer.Dequantize(prefix, qweight, qzeros, scales, Config, _layout));
    }

    private KeyNotFoundException PackedPart(string key) =>
        new($"{_file}: '{key}' is part of a packed weight; load '{key[..key.LastIndexOf('.')]}.weight'");

    /// <summary>(in, out) features of a packed module, from the stored shape of its qweight.</summary>
    private (int In, int Out) Features(string prefix)
    {
        string key = prefix + ".qweight";
        var shape = _inner.Info(key).Shape;
        if (shape.Length != 2)
            throw new InvalidDataException($"{_file}: {Config.FormatName}: '{key}' has shape [{string.Join(", ", shape)}], expected 2-D");
        return Named(() => Config.IsGptq
            ? (GptqDequantizer.InFeatures(shape[0], Config.Bits, key), shape[1])
            : (shape[0], AwqDequantizer.OutFeatures(shape[1], Config.Bits, key)));
    }

    /// <summary>Runs <paramref name="f"/>, prefixing the file name to a format error.</summary>
    private T Named<T>(Func<T> f)
    {
        try { return f(); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{_file}: {e.Message}", e); }
    }

    /// <inheritdoc />
    public void Dispose() => _inner.Dispose();
}
