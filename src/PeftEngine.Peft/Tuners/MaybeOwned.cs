namespace PeftEngine.Peft.Tuners;

/// <summary>A tensor that is either borrowed (not disposed) or made here (disposed), so a cast that may not be
/// needed keeps the autograd graph when it is skipped (an alias would drop it).</summary>
internal readonly struct MaybeOwned(Tensor value, bool owned) : IDisposable
{
    /// <summary>The tensor.</summary>
    public Tensor Value { get; } = value;

    /// <summary>x itself when it already has <paramref name="dtype"/>, else a cast copy.</summary>
    public static MaybeOwned Cast(Tensor x, DType dtype) => x.DType == dtype ? new(x, false) : new(Ops.Cast(x, dtype), true);

    /// <summary>Disposes the tensor if it was made here.</summary>
    public void Dispose()
    {
        if (owned) Value.Dispose();
    }
}
