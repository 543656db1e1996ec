namespace PeftEngine.Peft.Tuners;

/// <summary>
/// State shared by every adapter layer of one <see cref="PeftModel"/> during a forward pass: today the per-sample
/// adapter names of a mixed batch. The models pass only tensors; the layers read the rest from here.
/// </summary>
/// <remarks>HF: the <c>adapter_names</c> keyword that PeftModel.forward routes to every LoRA layer through forward
/// pre-hooks.</remarks>
public sealed class PeftRuntime
{
    /// <summary>The name given to samples that must see no adapter in a mixed batch.</summary>
    public const string BaseName = "__base__";

    /// <summary>One adapter name per sample of the current batch, or null when every sample uses the active adapters.</summary>
    public IReadOnlyList<string>? SampleAdapters { get; internal set; }

    /// <summary>For each row of the current forward, the indices along T of the prompt's real tokens (padding and,
    /// in a loss, the labelled answer excluded), or null when the forward gave no mask or labels (then every
    /// position of every row counts as prompt). Set by <see cref="PeftModel"/> for a prompt forward or a loss; a
    /// cached decoding step leaves it null.</summary>
    /// <remarks>pyreft: the intervention locations its data collator computes from the unpadded prompt length.</remarks>
    public IReadOnlyList<int[]>? PromptTokens { get; internal set; }

    /// <summary>The sample indices (I64) of each distinct name of <see cref="SampleAdapters"/>, built once per batch.</summary>
    public IReadOnlyDictionary<string, long[]> SampleGroups()
    {
        var groups = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        var names = SampleAdapters ?? throw new InvalidOperationException("PeftRuntime: no mixed batch is running");
        for (int i = 0; i < names.Count; i++)
        {
            if (!groups.TryGetValue(names[i], out var list)) groups[names[i]] = list = new List<long>();
            list.Add(i);
        }
        return groups.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray(), StringComparer.Ordinal);
    }

    /// <summary>Checks that a layer's batch dimension matches the number of adapter names.</summary>
    public void CheckBatch(Tensor x, string layer)
    {
        if (SampleAdapters is { } names && x.Shape[0] != names.Count)
            throw new ArgumentException($"{layer}: mixed batch has {names.Count} adapter names but the input {x.Shape} has batch {x.Shape[0]}");
    }

    /// <summary>Runs <paramref name="perGroup"/> on the rows of <paramref name="x"/> (dim 0) of each adapter and adds
    /// the results into <paramref name="result"/> at those rows. Rows of <see cref="BaseName"/> and of names the
    /// layer does not know are left as they are.</summary>
    public void AddPerGroup(Tensor x, Tensor result, Func<string, bool> known, Func<string, Tensor, Tensor> perGroup)
    {
        foreach (var (name, rows) in SampleGroups())
        {
            if (name == BaseName || !known(name)) continue;
            using var index = Tensor.FromArray(rows, rows.Length);
            using var sub = Ops.IndexSelect(x, 0, index);              // (B, ...) -> (b, ...)
            using var delta = perGroup(name, sub);
            using var cast = delta.DType == result.DType ? delta.Alias() : Ops.Cast(delta, result.DType);
            Ops.IndexAddInPlace(result, 0, index, cast);
        }
    }

    /// <summary>Recomputes the rows of <paramref name="result"/> (dim 0) of each adapter with
    /// <paramref name="perGroup"/> on the same rows of <paramref name="x"/>, replacing what was there (the base
    /// output). Rows of <see cref="BaseName"/> and of names the layer does not know are left as they are.</summary>
    /// <remarks>For layers whose adapted output is not "base + delta" (a scaled or replaced weight), so the delta is
    /// taken against the base rows.</remarks>
    public void ReplacePerGroup(Tensor x, Tensor result, Func<string, bool> known, Func<string, Tensor, Tensor> perGroup)
    {
        foreach (var (name, rows) in SampleGroups())
        {
            if (name == BaseName || !known(name)) continue;
            using var index = Tensor.FromArray(rows, rows.Length);
            using var sub = Ops.IndexSelect(x, 0, index);               // (B, ...) -> (b, ...)
            using var baseRows = Ops.IndexSelect(result, 0, index);
            using var adapted = perGroup(name, sub);
            using var delta = Ops.Sub(adapted, baseRows);
            Ops.IndexAddInPlace(result, 0, index, delta);
        }
    }
}
