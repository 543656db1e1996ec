namespace PeftEngine;

/// <summary>
/// Reverse-mode differentiation: walks the graph from a tensor back to the leaves, calling each node's
/// Backward once all gradients flowing into it have been summed, and accumulates the results into the
/// leaves' <see cref="Tensor.Grad"/>.
/// </summary>
/// <remarks>
/// PyTorch: torch.autograd.backward. Broadcasting is undone in one place (<see cref="SumToShape"/>), so op
/// backwards may return gradients in the broadcast shape. Saved tensors are freed node by node as the walk
/// passes them unless <c>retainGraph</c> is set.
/// </remarks>
public static class Engine
{
    /// <summary>Back-propagates from <paramref name="root"/>. With no <paramref name="gradient"/> the root must be a
    /// single element and its gradient is 1.</summary>
    public static void Backward(Tensor root, Tensor? gradient = null, bool retainGraph = false)
    {
        root.ThrowIfDisposed("backward root");
        if (!root.RequiresGrad)
            throw new InvalidOperationException($"Backward on a tensor {root.Shape} that does not require a gradient: no parameter on its path has RequiresGrad");
        if (gradient is null && root.Numel != 1)
            throw new ArgumentException($"Backward needs an explicit gradient for a non-scalar tensor {root.Shape}");
        if (gradient is not null && gradient.Shape != root.Shape)
            throw new ArgumentException($"gradient shape {gradient.Shape} does not match the tensor's shape {root.Shape}");

        using var noGrad = GradMode.Disable();
        var seed = gradient is null ? Tensor.Ones(root.Shape, root.DType, root.Device) : gradient.Alias();
        if (root.GradFn is null)
        {
            AccumulateIntoLeaf(root, seed);
            return;
        }

        var order = TopologicalOrder(root.GradFn);
        var pending = new Dictionary<GradNode, Tensor> { [root.GradFn] = seed };
        for (int n = order.Count - 1; n >= 0; n--)
        {
            var node = order[n];
            if (!pending.Remove(node, out var gradOut)) continue; // no gradient reached it
            if (node.IsReleased)
                throw new InvalidOperationException($"backward through {node.Name} a second time, or after its graph was freed; use Backward(retainGraph: true) the first time");
            Tensor?[] gradIns;
            try { gradIns = node.Backward(gradOut); }
            finally { gradOut.Dispose(); }
            if (!retainGraph) node.Release();

            for (int i = 0; i < node.Inputs.Length; i++)
            {
                var input = node.Inputs[i];
                var g = i < gradIns.Length ? gradIns[i] : null;
                if (input is null || g is null)
                {
                    g?.Dispose();
                    continue;
                }
                var shaped = SumToShape(g, input.Shape);
                if (!ReferenceEquals(shaped, g)) g.Dispose();
                if (input.GradFn is null)
                    AccumulateIntoLeaf(input, shaped);
                else if (pending.TryGetValue(input.GradFn, out var sum))
                {
                    pending[input.GradFn] = Ops.Add(sum, shaped);
                    sum.Dispose();
                    shaped.Dispose();
                }
                else
                    pending[input.GradFn] = shaped;
            }
        }
        foreach (var leftover in pending.Values) leftover.Dispose();
    }

    /// <summary>Adds <paramref name="g"/> into leaf.Grad (creating it on first use) and disposes <paramref name="g"/>.
    /// Leaf gradients belong to no scope: they live until the optimizer zeroes or disposes them.</summary>
    private static void AccumulateIntoLeaf(Tensor leaf, Tensor g)
    {
        if (!leaf.RequiresGrad) { g.Dispose(); return; }
        if (g.Shape != leaf.Shape)
            throw new InvalidOperationException($"internal error: gradient {g.Shape} for a leaf {leaf.Shape}");
        if (leaf.Grad is null || leaf.Grad.IsDisposed)
        {
            leaf.Grad = TensorScope.Detach(Ops.Clone(g));
        }
        else
        {
            Ops.AddInPlace(leaf.Grad, g);
        }
        g.Dispose();
    }

    /// <summary>Nodes reachable from <paramref name="root"/>, each after all nodes it depends on (inputs first).</summary>
    private static List<GradNode> TopologicalOrder(GradNode root)
    {
        var order = new List<GradNode>();
        var visited = new HashSet<GradNode>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(GradNode Node, int NextInput)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (node, next) = stack.Pop();
            if (next < node.Inputs.Length)
            {
                stack.Push((node, next + 1));
                var child = node.Inputs[next]?.GradFn;
                if (child is not null && visited.Add(child)) stack.Push((child, 0));
            }
            else order.Add(node);
        }
        return order; // post-order: inputs before the nodes that use them
    }

    /// <summary>
    /// Sums a gradient of a broadcast shape down to <paramref name="target"/>: first the leading dimensions the
    /// target lacks, then every dimension where the target has size 1. Returns <paramref name="grad"/> itself if
    /// the shapes already match.
    /// </summary>
    /// <remarks>PyTorch: Tensor.sum_to_size.</remarks>
    public static Tensor SumToShape(Tensor grad, Shape target)
    {
        if (grad.Shape == target) return grad;
        int extra = grad.Rank - target.Rank;
        if (extra < 0)
            throw new InvalidOperationException($"cannot sum gradient {grad.Shape} to the larger shape {target}");
        var dims = new List<int>();
        for (int d = 0; d < grad.Rank; d++)
        {
            if (d < extra) dims.Add(d);
            else if (target.Dims[d - extra] == 1 && grad.Shape.Dims[d] != 1) dims.Add(d);
            else if (target.Dims[d - extra] != grad.Shape.Dims[d])
                throw new InvalidOperationException($"cannot sum gradient {grad.Shape} to shape {target}");
        }
        using var summed = Ops.Sum(grad, dims.ToArray(), keepDim: true);
        // (1.., target...) -> target
        return Ops.Reshape(summed, target.ToArray()).Contiguous();
    }
}
