namespace PeftEngine;

/// <summary>
/// Dropout: during training each element is zeroed with probability p and the survivors are scaled by
/// 1 / (1 − p), so the expected value is unchanged; in evaluation it is the identity.
/// </summary>
/// <remarks>
/// PyTorch: torch.nn.functional.dropout(x, p, training, generator). Srivastava et al. 2014.
/// Backward: dx = g · mask with the same mask. The mask is not stored: the node keeps only the Philox seed and
/// the block offset the forward drew from, and regenerates the identical mask in backward (element i always
/// comes from block offset + i / 4). That costs one extra random fill per backward and saves a mask the size of
/// x per dropout layer (4 bytes an element in f32, 1 as u8) for the whole time between forward and backward.
/// The mask draws from 24 bits per element whatever the dtype, so f32 and f64 runs drop the same elements.
/// </remarks>
public static partial class Ops
{
    /// <summary>Zeroes each element with probability <paramref name="p"/> and scales the rest by 1 / (1 − p) when
    /// <paramref name="training"/>; otherwise (or when p is 0) returns a view of x with the same values.</summary>
    public static Tensor Dropout(Tensor x, double p, bool training = true, Generator? generator = null)
    {
        x.ThrowIfDisposed();
        if (!(p >= 0 && p <= 1))
            throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: probability must lie in [0, 1], got {p} for {x.Shape}");
        DTypes.RequireCompute(x, "Dropout");
        if (!training || p == 0 || x.Numel == 0)
        {
            var same = x.Alias();
            if (Graph.IsRecording(x)) Graph.Attach(same, new PassThroughNode("Dropout"), x);
            return same;
        }
        var (seed, offset) = (generator ?? Generator.Default).Reserve(x.Numel, RandomDistribution.Bernoulli, x.DType);
        var y = Tensor.EmptyLike(x);
        using (var mask = DropoutMask(x.Shape, x.DType, x.Device, p, seed, offset))
            x.Backend.Binary(BinaryOp.Mul, x, mask, y);
        if (Graph.IsRecording(x)) Graph.Attach(y, new DropoutNode(p, seed, offset), x);
        return y;
    }

    /// <summary>The scaled keep-mask of a dropout drawn from (seed, offset): 1 / (1 − p) with probability 1 − p,
    /// else 0 (all zeros when p = 1).</summary>
    internal static Tensor DropoutMask(Shape shape, DType dtype, Device device, double p, ulong seed, ulong offset)
    {
        var mask = Tensor.Empty(shape, dtype, device);
        double keep = 1 - p;
        mask.Backend.FillRandom(mask, RandomDistribution.Bernoulli, seed, offset, keep, keep > 0 ? 1 / keep : 0);
        return mask;
    }

    private sealed class DropoutNode(double p, ulong seed, ulong offset) : GradNode
    {
        public override Tensor?[] Backward(Tensor g)
        {
            // dx = g · mask, with the mask drawn again from the forward's (seed, offset).
            using var mask = DropoutMask(g.Shape, g.DType, g.Device, p, seed, offset);
            return [Mul(g, mask)];
        }
    }
}
