namespace PeftEngine;

/// <summary>
/// Gradient checkpointing: trades compute for memory by not keeping a block's activations. The forward runs the
/// block with recording off and keeps only its inputs; backward runs the block a second time with recording on
/// and back-propagates through that fresh graph.
/// </summary>
/// <example><code>
/// // one transformer layer; its weights are captured by the lambda and still receive gradients
/// var h2 = Checkpoint.Run(x => layer.Forward(x[0]), h1);
/// </code></example>
/// <remarks>
/// PyTorch: torch.utils.checkpoint.checkpoint(fn, *inputs, preserve_rng_state=True). Random ops inside the block
/// (dropout) draw from their generator again on the recompute: the generators' states are captured before the
/// forward and restored for the recompute (and put back afterwards), so the recompute sees the same masks.
/// Parameters the block captures get their gradients during the recompute's backward, accumulated straight into
/// their <see cref="Tensor.Grad"/>. Because those parameters cannot be seen without running the block with
/// recording on, the output is treated as requiring grad whenever grad mode is on. The block must be
/// deterministic apart from the preserved generators, and must not change its inputs in place. A preserved
/// generator is rewound for the duration of the recompute, so other threads should not draw from it while
/// backward runs.
/// </remarks>
public static class Checkpoint
{
    /// <summary>Runs <paramref name="block"/> on <paramref name="inputs"/> without keeping its activations;
    /// preserves <see cref="Generator.Default"/> for the recompute.</summary>
    public static Tensor Run(Func<Tensor[], Tensor> block, params Tensor[] inputs) => Run(block, [Generator.Default], inputs);

    /// <summary>As <see cref="Run(Func{Tensor[], Tensor}, Tensor[])"/>, preserving the listed generators (none: an
    /// empty array) for the recompute.</summary>
    public static Tensor Run(Func<Tensor[], Tensor> block, Generator[] preserveRng, params Tensor[] inputs)
    {
        foreach (var x in inputs) x.ThrowIfDisposed("checkpoint input");
        if (!GradMode.IsEnabled) return Own(block(inputs), inputs); // nothing will be recorded: a plain call
        var states = preserveRng.Select(g => g.GetState()).ToArray();
        Tensor y;
        using (GradMode.Disable()) y = Own(block(inputs), inputs);
        if (!y.DType.IsFloat()) return y;
        return Graph.Attach(y, new CheckpointNode(block, inputs, preserveRng, states, y.Shape), inputs);
    }

    /// <summary>The block's result as a tensor the caller owns: an alias if the block handed back one of its inputs.</summary>
    private static Tensor Own(Tensor y, Tensor[] inputs) => inputs.Any(x => ReferenceEquals(x, y)) ? y.Alias() : y;

    private sealed class CheckpointNode : GradNode
    {
        private readonly Func<Tensor[], Tensor> _block;
        private readonly SavedTensor[] _inputs;
        private readonly Generator[] _generators;
        private readonly GeneratorState[] _states;
        private readonly Shape _outputShape;

        public CheckpointNode(Func<Tensor[], Tensor> block, Tensor[] inputs, Generator[] generators, GeneratorState[] states, Shape outputShape)
        {
            _block = block;
            _inputs = inputs.Select(Save).ToArray(); // every input, also frozen ones: the recompute needs them
            _generators = generators;
            _states = states;
            _outputShape = outputShape;
        }

        public override Tensor?[] Backward(Tensor g)
        {
            // Fresh leaves that share the inputs' memory: the recomputed graph ends at them, not at the outer graph.
            var leaves = new Tensor[_inputs.Length];
            for (int i = 0; i < leaves.Length; i++)
            {
                leaves[i] = _inputs[i].Value.Detach();
                if (NeedsGrad(i)) leaves[i].RequiresGrad = true;
            }
            Tensor? y = null;
            try
            {
                y = Recompute(leaves);
                if (y.Shape != _outputShape)
                    throw new InvalidOperationException($"checkpointed block returned {y.Shape} on the recompute but {_outputShape} in the forward; the block must be deterministic");
                if (y.RequiresGrad) Engine.Backward(y, g);
                var grads = new Tensor?[leaves.Length];
                for (int i = 0; i < leaves.Length; i++)
                {
                    if (!NeedsGrad(i)) continue;
                    grads[i] = leaves[i].Grad; // handed to the engine, which disposes it
                    leaves[i].Grad = null;
                }
                return grads;
            }
            finally
            {
                y?.Dispose();
                foreach (var leaf in leaves) leaf.Dispose();
            }
        }

        /// <summary>Runs the block again with recording on, the generators rewound to where the forward found them.</summary>
        private Tensor Recompute(Tensor[] leaves)
        {
            var now = _generators.Select(gen => gen.GetState()).ToArray();
            try
            {
                for (int k = 0; k < _generators.Length; k++) _generators[k].SetState(_states[k]);
                using (GradMode.Enable()) return _block(leaves);
            }
            finally
            {
                for (int k = 0; k < _generators.Length; k++) _generators[k].SetState(now[k]);
            }
        }
    }
}
