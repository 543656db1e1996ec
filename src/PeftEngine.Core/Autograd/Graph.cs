namespace PeftEngine;

/// <summary>How ops record themselves in the autograd graph.</summary>
/// <example><code>
/// var y = ...forward...;
/// if (Graph.IsRecording(a, b))
///     Graph.Attach(y, new MulNode(saveA: b.RequiresGrad ? a : null, ...), a, b);
/// </code></example>
public static class Graph
{
    /// <summary>True when grad mode is on and at least one input requires a gradient.</summary>
    public static bool IsRecording(Tensor a) => GradMode.IsEnabled && a.RequiresGrad;

    /// <inheritdoc cref="IsRecording(Tensor)"/>
    public static bool IsRecording(Tensor a, Tensor b) => GradMode.IsEnabled && (a.RequiresGrad || b.RequiresGrad);

    /// <inheritdoc cref="IsRecording(Tensor)"/>
    public static bool IsRecording(params ReadOnlySpan<Tensor?> inputs)
    {
        if (!GradMode.IsEnabled) return false;
        foreach (var t in inputs)
            if (t is not null && t.RequiresGrad) return true;
        return false;
    }

    /// <summary>Makes <paramref name="node"/> the producer of <paramref name="output"/>. Inputs that do not require
    /// a gradient are stored as null, so backward skips them.</summary>
    public static Tensor Attach(Tensor output, GradNode node, params ReadOnlySpan<Tensor?> inputs)
    {
        var ins = new Tensor?[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
            ins[i] = inputs[i] is { RequiresGrad: true } t ? t : null;
        node.Inputs = ins;
        output.GradFn = node;
        output.RequiresGradInternal = true;
        return output;
    }
}
