using PeftEngine.IO.Safetensors;
using PeftEngine.Nn;

namespace PeftEngine.Quant;

/// <summary>
/// Loads the 4-bit weights of a transformers "bnb-4bit" checkpoint into a model: every module whose weight is stored
/// pre-quantized is replaced by a <see cref="Linear4Bit"/> built from the stored state (no requantization, so the
/// numbers are exactly those of the checkpoint). The remaining tensors (embeddings, norms, the output head) are
/// ordinary and are left for the model's usual state-dict loading.
/// </summary>
/// <remarks>HF: AutoModelForCausalLM.from_pretrained on a checkpoint whose config.json has
/// quantization_config.quant_method == "bitsandbytes" and load_in_4bit; transformers calls
/// Params4bit.from_prequantized for each such weight.</remarks>
public static class Bnb4BitLoader
{
    /// <summary>
    /// Replaces every pre-quantized module and returns the checkpoint keys it consumed (the 4-bit tensors and those
    /// modules' biases). <paramref name="keyToPath"/> maps a checkpoint module name to the model's module path
    /// (identity by default; e.g. strip a <c>transformer.</c> prefix).
    /// </summary>
    public static HashSet<string> ApplyTo(Module model, ITensorSource source, string file, Func<string, string>? keyToPath = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(source);
        keyToPath ??= k => k;
        var consumed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var type in new[] { FourBitType.Nf4, FourBitType.Fp4 })
        {
            string suffix = ".weight" + Bnb4BitState.QuantStateSuffix(type);
            foreach (var key in source.Keys.Where(k => k.EndsWith(suffix, StringComparison.Ordinal)).ToList())
            {
                string moduleKey = key[..^suffix.Length], weightKey = moduleKey + ".weight", path = keyToPath(moduleKey);
                var old = Find(model, path, file, weightKey);
                var (packed, readType) = Bnb4BitState.Read(source, weightKey, file);
                if (Features(old) is not var (inF, outF))
                {
                    packed.Dispose();
                    throw new InvalidDataException($"{file}: '{weightKey}' is a 4-bit Linear weight, but the model's '{path}' is a {old.GetType().Name}");
                }
                if (inF != packed.Cols || outF != packed.Rows)
                {
                    packed.Dispose();
                    throw new InvalidDataException(
                        $"{file}: '{weightKey}' is a {packed.Rows}x{packed.Cols} weight, but the model's '{path}' is {outF}x{inF} (out x in)");
                }
                string biasKey = moduleKey + ".bias";
                using var bias = source.Contains(biasKey) ? source.Load(biasKey, DType.F32) : null;
                model.ReplaceSubmodule(path, new Linear4Bit(packed, bias, readType)).Dispose();
                foreach (var k in source.Keys.Where(k => k == weightKey || k.StartsWith(weightKey + ".", StringComparison.Ordinal))) consumed.Add(k);
                if (bias is not null) consumed.Add(biasKey);
            }
        }
        return consumed;
    }

    private static Module Find(Module model, string path, string file, string weightKey)
    {
        try
        {
            return model.GetSubmodule(path);
        }
        catch (Exception e) when (e is KeyNotFoundException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"{file}: the 4-bit weight '{weightKey}' belongs to a module '{path}' the model does not have", e);
        }
    }

    private static (int In, int Out)? Features(Module m) => m switch
    {
        Linear l => (l.InFeatures, l.OutFeatures),
        Conv1D c => (c.InFeatures, c.OutFeatures),
        Linear4Bit q => (q.InFeatures, q.OutFeatures),
        _ => null,
    };
}
