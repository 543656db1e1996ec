using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>Where pretrained weights come from: a safetensors checkpoint, a GGUF file, or anything that can
/// list tensors, tell their shapes and load them.</summary>
public interface IWeightSource
{
    /// <summary>Every stored tensor name.</summary>
    IEnumerable<string> Keys { get; }

    /// <summary>The stored key of the model parameter <paramref name="parameterName"/>, or null when absent.</summary>
    string? KeyFor(string parameterName);

    /// <summary>The stored shape (engine order, outermost first) of <paramref name="key"/>.</summary>
    Shape ShapeOf(string key);

    /// <summary>Loads <paramref name="key"/> cast to <paramref name="dtype"/> (HF row order).</summary>
    Tensor Load(string key, DType dtype);
}

/// <summary>Copies a checkpoint's tensors into a model's parameters after checking that every parameter has a
/// tensor of its shape and that no tensor is left without a place.</summary>
/// <remarks>HF: the strict state-dict load of from_pretrained (missing / unexpected / mismatched keys are errors
/// here, naming the file and key).</remarks>
public static class WeightLoader
{
    /// <summary>Loads <paramref name="source"/> into <paramref name="model"/>.</summary>
    /// <param name="model">The freshly built model.</param>
    /// <param name="source">The tensors.</param>
    /// <param name="who">The caller, for messages (e.g. "LlamaModel.FromPretrained").</param>
    /// <param name="file">The file named in messages.</param>
    /// <param name="ignorable">Stored keys that may be left unused (buffers, tied heads).</param>
    /// <param name="dtype">The parameters' dtype.</param>
    public static void Load(Module model, IWeightSource source, string who, string file, Func<string, bool> ignorable, DType dtype)
    {
        var used = new HashSet<string>();
        var plan = new List<(Parameter Parameter, string Key)>();
        foreach (var (name, p) in model.NamedParameters())
        {
            string key = source.KeyFor(name)
                ?? throw new InvalidDataException($"{who}: '{file}' has no tensor for '{name}', which the model needs with shape {p.Data.Shape}");
            var stored = source.ShapeOf(key);
            if (stored != p.Data.Shape)
                throw new InvalidDataException($"{who}: tensor '{key}' in '{file}' has shape {stored}, expected {p.Data.Shape} for '{name}' (check the config's sizes)");
            used.Add(key);
            plan.Add((p, key));
        }
        var unexpected = source.Keys.Where(k => !used.Contains(k) && !ignorable(k)).ToList();
        if (unexpected.Count > 0)
            throw new InvalidDataException($"{who}: '{file}' has tensors the model has no place for: {string.Join(", ", unexpected.Take(10).Select(k => $"'{k}'"))}{(unexpected.Count > 10 ? $" and {unexpected.Count - 10} more" : "")}");
        using (GradMode.Disable())
            foreach (var (p, key) in plan)
            {
                using var loaded = source.Load(key, dtype);
                Ops.CopyInPlace(p.Data, loaded);
            }
    }
}
