namespace PeftEngine.Models;

/// <summary>
/// A function called on the hidden state that leaves one decoder layer, before the next layer reads it.
/// </summary>
/// <param name="layer">The layer's index (0 = first).</param>
/// <param name="hidden">The layer's output (B, T, C); the hook must not dispose it.</param>
/// <param name="pastLength">Positions already in the KV cache before this forward (0 without a cache or for the
/// prompt); the T rows of <paramref name="hidden"/> are positions pastLength .. pastLength + T - 1.</param>
/// <returns>A new tensor (B, T, C) the caller owns and uses instead of <paramref name="hidden"/>, or null to keep
/// <paramref name="hidden"/> unchanged.</returns>
/// <remarks>PyTorch: a forward hook on a decoder layer (<c>layer.register_forward_hook(fn)</c>) that returns a
/// replacement output, as pyvene/pyreft install on the block output.</remarks>
public delegate Tensor? LayerOutputHook(int layer, Tensor hidden, int pastLength);

/// <summary>A model body that lets code outside it rewrite each decoder layer's output.</summary>
/// <remarks>The hooks run after the layer, outside any gradient-checkpointed region: a checkpointed layer is
/// recomputed in backward without its hooks, and the hook's own ops are recorded in the ordinary graph.</remarks>
public interface ILayerOutputHooks
{
    /// <summary>Hooks called in order after every decoder layer.</summary>
    IList<LayerOutputHook> LayerOutputHooks { get; }
}

/// <summary>Runs a list of <see cref="LayerOutputHook"/>s.</summary>
public static class LayerHooks
{
    /// <summary>Passes <paramref name="hidden"/> (owned by this call from now on) through every hook in order; a
    /// hook that returns a new tensor replaces it (the replaced tensor is disposed). Returns the final hidden
    /// state, which the caller owns; if a hook throws, the current hidden state is disposed first.</summary>
    public static Tensor Apply(IList<LayerOutputHook> hooks, int layer, Tensor hidden, int pastLength)
    {
        ArgumentNullException.ThrowIfNull(hooks);
        try
        {
            for (int k = 0; k < hooks.Count; k++)
            {
                var next = hooks[k](layer, hidden, pastLength);
                if (next is null) continue;
                if (next.Shape != hidden.Shape)
                {
                    next.Dispose();
                    throw new InvalidOperationException($"LayerOutputHook {k} on layer {layer}: returned {next.Shape}, expected the hidden shape {hidden.Shape}");
                }
                hidden.Dispose();
                hidden = next;
            }
            return hidden;
        }
        catch
        {
            hidden.Dispose();
            throw;
        }
    }
}
