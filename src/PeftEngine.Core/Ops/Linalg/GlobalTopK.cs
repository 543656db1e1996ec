namespace PeftEngine;

/// <summary>
/// A top-k selection across many tensors at once: the k largest scores (or magnitudes) among all elements of
/// all the tensors, returned as one U8 mask per tensor. Sparse fine-tuning methods (Fish-Mask, DiffPruning,
/// SpIEL-style and magnitude-based sparse adapters) choose their trainable positions globally this way.
/// </summary>
/// <remarks>PyTorch idiom: torch.topk(torch.cat([t.flatten() for t in ts]), k) followed by splitting the mask.
/// Not differentiable (a mask). Ties at the threshold are broken by the order of TopK; exactly k are set.</remarks>
public static partial class Ops
{
    /// <summary>One U8 mask per tensor (same shapes) with exactly k ones in total, at the k largest values
    /// (|values| when <paramref name="byMagnitude"/>) over all tensors together.</summary>
    public static Tensor[] GlobalTopKMask(IReadOnlyList<Tensor> tensors, long k, bool byMagnitude = true)
    {
        if (tensors.Count == 0) throw new ArgumentException("GlobalTopKMask: no tensors given");
        long total = 0;
        foreach (var t in tensors)
        {
            t.ThrowIfDisposed();
            DTypes.RequireCompute(t, "GlobalTopKMask");
            CheckSameDevice(tensors[0], t, "GlobalTopKMask");
            total += t.Numel;
        }
        if (k < 0 || k > total)
            throw new ArgumentOutOfRangeException(nameof(k), $"GlobalTopKMask: k = {k} must be in [0, {total}] (the total number of elements)");
        var flags = new byte[total];
        if (k > 0)
        {
            using (GradMode.Disable())
            {
                var flat = new List<Tensor>();
                foreach (var t in tensors)
                {
                    using var f64 = Cast(t, DType.F64);
                    using var f = Reshape(f64, -1);
                    flat.Add(byMagnitude ? Abs(f) : f.Alias());
                }
                using var all = Cat(flat, 0);
                foreach (var f in flat) f.Dispose();
                using var top = TopK(all, checked((int)k));
                foreach (long i in top.Indices.ToArray<long>()) flags[i] = 1;
            }
        }
        var masks = new Tensor[tensors.Count];
        long offset = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            using var host = Tensor.FromArray(flags[(int)offset..(int)(offset + t.Numel)], t.Shape.ToArray());
            masks[i] = host.To(t.Device);
            offset += t.Numel;
        }
        return masks;
    }
}
