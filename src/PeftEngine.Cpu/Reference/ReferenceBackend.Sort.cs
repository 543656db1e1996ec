namespace PeftEngine.Cpu;

public sealed partial class ReferenceBackend
{
    public void Sort(Tensor x, int dim, bool descending, Tensor values, Tensor indices) =>
        SortedPrefix(x, dim, x.Shape[dim], descending, values, indices);

    public void TopK(Tensor x, int dim, int k, bool largest, Tensor values, Tensor indices) =>
        SortedPrefix(x, dim, k, descending: largest, values, indices);

    /// <summary>The first <paramref name="k"/> entries of the stable sort of every (o, :, i) column.</summary>
    private static void SortedPrefix(Tensor x, int dim, int k, bool descending, Tensor values, Tensor indices)
    {
        var (outer, n, inner) = ReduceGeometry(x.Shape, dim);
        for (long o = 0; o < outer; o++)
            for (long i = 0; i < inner; i++)
            {
                var column = new (double Value, long Index)[n];
                for (long j = 0; j < n; j++) column[j] = (ReadAsDouble(x, x.Offset + (o * n + j) * inner + i), j);
                // OrderBy is a stable sort: equal keys keep their original order.
                var order = descending
                    ? column.OrderByDescending(e => e.Value, NaNLargest.Instance)
                    : column.OrderBy(e => e.Value, NaNLargest.Instance);
                long j2 = 0;
                foreach (var (value, index) in order.Take(k))
                {
                    long at = (o * k + j2++) * inner + i;
                    WriteDouble(values, values.Offset + at, value);
                    WriteDouble(indices, indices.Offset + at, index);
                }
            }
    }

    public void SelectionBackward(Tensor grad, Tensor indices, int dim, Tensor dx)
    {
        var (outer, n, inner) = ReduceGeometry(dx.Shape, dim);
        long m = grad.Shape[dim];
        Fill(dx, 0);
        for (long o = 0; o < outer; o++)
            for (long j = 0; j < m; j++)
                for (long i = 0; i < inner; i++)
                {
                    long at = (o * m + j) * inner + i;
                    long k = (long)ReadAsDouble(indices, indices.Offset + at);
                    if (k < 0 || k >= n)
                        throw new ArgumentOutOfRangeException(nameof(indices), $"SelectionBackward: index {k} outside dimension {dim} of size {n} in {dx.Shape}");
                    long to = dx.Offset + (o * n + k) * inner + i;
                    WriteDouble(dx, to, ReadAsDouble(dx, to) + ReadAsDouble(grad, grad.Offset + at));
                }
    }

    /// <summary>Numeric order with NaN above every number (and all NaNs equal); -0 equals +0.</summary>
    private sealed class NaNLargest : IComparer<double>
    {
        public static readonly NaNLargest Instance = new();
        public int Compare(double a, double b) =>
            double.IsNaN(a) ? (double.IsNaN(b) ? 0 : 1) : double.IsNaN(b) ? -1 : a < b ? -1 : a > b ? 1 : 0;
    }
}
