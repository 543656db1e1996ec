namespace PeftEngine.IO.Safetensors;

/// <summary>Something tensors can be loaded from by name: one safetensors file or a sharded checkpoint.</summary>
public interface ITensorSource : IDisposable
{
    /// <summary>All tensor names.</summary>
    IEnumerable<string> Keys { get; }

    /// <summary>True when a tensor called <paramref name="name"/> exists.</summary>
    bool Contains(string name);

    /// <summary>The stored dtype, shape and offsets of a tensor.</summary>
    SafetensorsTensorInfo Info(string name);

    /// <summary>Copies a tensor into a new host tensor, optionally cast to <paramref name="convertTo"/>.</summary>
    Tensor Load(string name, DType? convertTo = null);
}
