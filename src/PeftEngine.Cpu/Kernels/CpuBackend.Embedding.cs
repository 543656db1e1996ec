using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Embedding(Tensor weight, Tensor ids, Tensor y)
    {
        if (weight.DType != y.DType) throw new ArgumentException($"Embedding: weight {weight.DType.Name()} but output {y.DType.Name()}");
        int size = weight.DType.SizeOf();
        int vocab = weight.Shape[0], d = weight.Shape[1];
        long n = ids.Numel;
        long* pid = Ptr<long>(ids);
        CheckIds(pid, n, vocab, "Embedding");
        byte* pw = (byte*)weight.HostStorage.Pointer + weight.Offset * size;
        byte* py = (byte*)y.HostStorage.Pointer + y.Offset * size;
        long rowBytes = (long)d * size;
        CpuParallel.For(n, d, (i0, i1) =>
        {
            for (long i = i0; i < i1; i++)
                Buffer.MemoryCopy(pw + pid[i] * rowBytes, py + i * rowBytes, rowBytes, rowBytes);
        });
    }

    public void EmbeddingBackward(Tensor ids, Tensor dy, Tensor dweight)
    {
        switch (dy.DType)
        {
            case DType.F32: EmbeddingBackwardTyped<float>(ids, dy, dweight); break;
            case DType.F64: EmbeddingBackwardTyped<double>(ids, dy, dweight); break;
            default: throw Unsupported("EmbeddingBackward", dy.DType);
        }
    }

    /// <summary>
    /// Groups the positions by id with a counting sort (stable, so each group stays in position order), then
    /// gives every table row to exactly one thread, which sums its group. No two threads write the same row,
    /// and each row's sum has a fixed order.
    /// </summary>
    private static void EmbeddingBackwardTyped<T>(Tensor ids, Tensor dy, Tensor dweight) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int vocab = dweight.Shape[0], d = dweight.Shape[1];
        int n = checked((int)ids.Numel);
        long* pid = Ptr<long>(ids);
        CheckIds(pid, n, vocab, "EmbeddingBackward");
        T* pg = Ptr<T>(dy), pd = Ptr<T>(dweight);

        // start[v] .. start[v+1] is the range of `order` holding the positions whose id is v.
        var start = ArrayPool<int>.Shared.Rent(vocab + 1);
        var order = ArrayPool<int>.Shared.Rent(Math.Max(n, 1));
        try
        {
            Array.Clear(start, 0, vocab + 1);
            for (int i = 0; i < n; i++) start[pid[i] + 1]++;
            for (int v = 0; v < vocab; v++) start[v + 1] += start[v];
            var next = ArrayPool<int>.Shared.Rent(vocab);
            Array.Copy(start, next, vocab);
            for (int i = 0; i < n; i++) order[next[pid[i]]++] = i;
            ArrayPool<int>.Shared.Return(next);

            long workPerRow = d + (long)d * n / Math.Max(vocab, 1);
            CpuParallel.For(vocab, workPerRow, (v0, v1) =>
            {
                for (long v = v0; v < v1; v++)
                {
                    var dst = new Span<T>(pd + v * d, d);
                    int s = start[v], e = start[v + 1];
                    if (s == e)
                    {
                        dst.Clear();
                        continue;
                    }
                    new ReadOnlySpan<T>(pg + (long)order[s] * d, d).CopyTo(dst);
                    for (int k = s + 1; k < e; k++)
                        TensorPrimitives.Add(dst, new ReadOnlySpan<T>(pg + (long)order[k] * d, d), dst);
                }
            });
        }
        finally
        {
            ArrayPool<int>.Shared.Return(start);
            ArrayPool<int>.Shared.Return(order);
        }
    }

    private static void CheckIds(long* ids, long n, int vocab, string op)
    {
        for (long i = 0; i < n; i++)
            if ((ulong)ids[i] >= (ulong)vocab)
                throw new ArgumentOutOfRangeException(nameof(ids), $"{op}: id {ids[i]} at position {i} is outside the table of {vocab} rows");
    }
}
