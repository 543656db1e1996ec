using System.Text.Json;
using PeftEngine.IO.Safetensors;
using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>The GPTQ/AWQ fixtures written by Fixtures/gptq_awq/make_fixture.py (numpy): packed matrices with their
/// expected dequantized weights, and tiny LLaMA / GPT-2 checkpoints with float32 references.</summary>
internal static class GptqAwqFixture
{
    public static string Path(string name) => System.IO.Path.Combine(AppContext.BaseDirectory, "Fixtures", "gptq_awq", name);

    /// <summary>One matrix case of cases.json.</summary>
    public sealed record Case(string Name, GptqAwqConfig Config, int In, int Out, bool DescAct);

    public static IReadOnlyList<Case> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path("cases.json")));
        var cases = new List<Case>();
        foreach (var c in doc.RootElement.EnumerateArray())
        {
            string method = c.GetProperty("method").GetString()!;
            var config = new GptqAwqConfig
            {
                QuantMethod = method,
                Bits = c.GetProperty("bits").GetInt32(),
                GroupSize = c.GetProperty("group_size").GetInt32(),
                CheckpointFormat = c.TryGetProperty("checkpoint_format", out var f) ? f.GetString()! : "gptq",
                Sym = c.TryGetProperty("sym", out var s) && s.GetBoolean(),
                DescAct = c.TryGetProperty("desc_act", out var d) && d.GetBoolean(),
            };
            cases.Add(new Case(c.GetProperty("name").GetString()!, config, c.GetProperty("k").GetInt32(), c.GetProperty("n").GetInt32(), config.DescAct));
        }
        return cases;
    }

    public static TheoryData<string> CaseNames
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var c in Cases()) data.Add(c.Name);
            return data;
        }
    }

    public static SafetensorsFile OpenMatrices() => SafetensorsFile.Open(Path("matrices.safetensors"));
}

/// <summary>Tensors held in memory under names, for building checkpoints with one part changed.</summary>
internal sealed class MemoryTensorSource : ITensorSource
{
    private readonly Dictionary<string, Tensor> _tensors = new(StringComparer.Ordinal);

    /// <summary>Copies every tensor of <paramref name="source"/> whose key starts with <paramref name="prefix"/>,
    /// renamed to <paramref name="renameTo"/> + the rest of the key.</summary>
    public static MemoryTensorSource CopyOf(ITensorSource source, string prefix, string renameTo)
    {
        var m = new MemoryTensorSource();
        foreach (var key in source.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)))
            m[renameTo + key[prefix.Length..]] = source.Load(key);
        return m;
    }

    public Tensor this[string key]
    {
        get => _tensors[key];
        set
        {
            if (_tensors.Remove(key, out var old)) old.Dispose();
            _tensors[key] = value;
        }
    }

    public void Remove(string key)
    {
        if (_tensors.Remove(key, out var old)) old.Dispose();
    }

    public IEnumerable<string> Keys => _tensors.Keys;
    public bool Contains(string name) => _tensors.ContainsKey(name);

    public SafetensorsTensorInfo Info(string name)
    {
        var t = _tensors[name];
        return new SafetensorsTensorInfo(name, SafetensorsDTypes.FromEngine(t.DType), t.Shape.ToArray(), 0, t.Numel * t.DType.SizeOf());
    }

    public Tensor Load(string name, DType? convertTo = null)
    {
        var t = _tensors[name];
        return convertTo is { } d && d != t.DType ? Ops.Cast(t, d) : Ops.Clone(t);
    }

    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
    }
}

/// <summary>A fresh temporary folder, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "peft-gptq-" + Guid.NewGuid().ToString("N")));

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
