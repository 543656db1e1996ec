using System.Globalization;
using System.Text;

namespace PeftEngine;

public sealed partial class Tensor
{
    /// <summary>Tensors with more elements than this print summarised (<see cref="ToString(int, int, int)"/>).</summary>
    public const int PrintThreshold = 1000;

    /// <summary>
    /// The values (nested brackets, one row per line, aligned) followed by shape, dtype, device and the autograd
    /// state: <c>grad_fn=Mul</c> for op results, <c>requires_grad=true</c> for trainable leaves. Tensors with more
    /// than <see cref="PrintThreshold"/> elements show the first and last three entries of each dimension around "...".
    /// </summary>
    /// <remarks>PyTorch: Tensor.__repr__ with the default print options (precision 4, threshold 1000, edgeitems 3).</remarks>
    public override string ToString() => ToString(PrintThreshold);

    /// <summary>Like <see cref="ToString()"/> with explicit print options: summarise above
    /// <paramref name="threshold"/> elements keeping <paramref name="edgeItems"/> per end of each dimension, and
    /// show <paramref name="precision"/> decimals.</summary>
    /// <remarks>PyTorch: torch.set_printoptions(threshold, edgeitems, precision).</remarks>
    public string ToString(int threshold, int edgeItems = 3, int precision = 4)
    {
        var meta = new StringBuilder($"shape={Shape}, dtype={DType.Name()}, device={Device}");
        if (GradFn is not null) meta.Append($", grad_fn={GradFn.Name}");
        else if (RequiresGrad) meta.Append(", requires_grad=true");
        if (IsDisposed || Storage.IsFreed) return $"tensor(<disposed>, {meta})";

        // The indices shown along each dimension; -1 marks the "..." gap.
        bool summarise = Numel > threshold;
        var shown = new int[Rank][];
        for (int d = 0; d < Rank; d++)
        {
            int n = Shape[d];
            shown[d] = summarise && n > 2 * edgeItems
                ? [.. Enumerable.Range(0, edgeItems), -1, .. Enumerable.Range(n - edgeItems, edgeItems)]
                : Enumerable.Range(0, n).ToArray();
        }

        using var host = Device.IsHost ? Alias() : CopyToCpu();
        var cells = new Dictionary<long, string>();
        var values = new List<(long Key, double Value, long Integer)>();
        CollectShown(host, shown, 0, host.Offset, values);
        var format = CellFormat.Choose(DType, values.Select(v => v.Value), precision);
        int width = 0;
        foreach (var (key, value, integer) in values)
        {
            string s = DType.IsFloat() ? format.Format(value) : integer.ToString(CultureInfo.InvariantCulture);
            cells[key] = s;
            width = Math.Max(width, s.Length);
        }

        var sb = new StringBuilder("tensor(");
        if (Numel == 0) sb.Append("[]");
        else Render(sb, shown, cells, width, 0, host.Offset, host);
        return sb.Append(", ").Append(meta).Append(')').ToString();
    }

    private Tensor CopyToCpu()
    {
        using (GradMode.Disable()) return Ops.ToDevice(this, Device.Cpu);
    }

    /// <summary>Reads the shown elements (keyed by storage index) of a host tensor.</summary>
    private static void CollectShown(Tensor t, int[][] shown, int dim, long at, List<(long, double, long)> values)
    {
        if (dim == t.Rank)
        {
            values.Add((at, ReadDouble(t, at), t.DType.IsFloat() ? 0 : ReadInteger(t, at)));
            return;
        }
        foreach (int i in shown[dim])
            if (i >= 0) CollectShown(t, shown, dim + 1, at + i * t.Strides[dim], values);
    }

    /// <summary>Writes dimension <paramref name="dim"/> starting at storage index <paramref name="at"/>. The opening
    /// bracket of this dimension sits in column 7 + dim (after "tensor("), so rows line up under each other.</summary>
    private static void Render(StringBuilder sb, int[][] shown, Dictionary<long, string> cells, int width, int dim, long at, Tensor t)
    {
        if (dim == t.Rank)
        {
            sb.Append(cells[at].PadLeft(width));
            return;
        }
        int indent = 7 + dim + 1;
        bool last = dim == t.Rank - 1;
        // Wrap long rows at 80 columns, as PyTorch does.
        int perLine = last ? Math.Max(1, (80 - indent) / (width + 2)) : 1;
        string newRow = "," + new string('\n', last ? 1 : t.Rank - dim - 1) + new string(' ', indent);
        sb.Append('[');
        for (int k = 0; k < shown[dim].Length; k++)
        {
            if (k > 0) sb.Append(last ? (k % perLine == 0 ? "," + "\n" + new string(' ', indent) : ", ") : newRow);
            int i = shown[dim][k];
            if (i < 0) sb.Append("...");
            else Render(sb, shown, cells, width, dim + 1, at + i * t.Strides[dim], t);
        }
        sb.Append(']');
    }

    private static unsafe double ReadDouble(Tensor t, long i)
    {
        var h = t.HostStorage;
        return t.DType switch
        {
            DType.F32 => *h.Ptr<float>(i),
            DType.F64 => *h.Ptr<double>(i),
            DType.F16 => (double)*h.Ptr<Half>(i),
            DType.BF16 => h.Ptr<BFloat16>(i)->ToSingle(),
            _ => ReadInteger(t, i),
        };
    }

    private static unsafe long ReadInteger(Tensor t, long i)
    {
        var h = t.HostStorage;
        return t.DType switch
        {
            DType.I32 => *h.Ptr<int>(i),
            DType.I64 => *h.Ptr<long>(i),
            DType.U8 => *h.Ptr<byte>(i),
            _ => throw new NotSupportedException($"ReadInteger: {t.DType.Name()}"),
        };
    }

    /// <summary>One number style for all cells of a tensor, chosen from the values shown: whole numbers as "3.",
    /// otherwise fixed with <c>precision</c> decimals, or scientific when the magnitudes span more than 10³ or
    /// leave [1e-4, 1e8).</summary>
    private readonly record struct CellFormat(bool Whole, bool Scientific, int Precision)
    {
        public static CellFormat Choose(DType dtype, IEnumerable<double> values, int precision)
        {
            if (!dtype.IsFloat()) return new CellFormat(true, false, precision);
            var finite = values.Where(double.IsFinite).ToArray();
            var nonzero = finite.Where(v => v != 0).Select(Math.Abs).ToArray();
            if (nonzero.Length == 0) return new CellFormat(true, false, precision);
            double max = nonzero.Max(), min = nonzero.Min();
            if (finite.All(v => v == Math.Floor(v))) return new CellFormat(true, max >= 1e8, precision);
            return new CellFormat(false, max / min > 1e3 || max >= 1e8 || min < 1e-4, precision);
        }

        public string Format(double v)
        {
            if (double.IsNaN(v)) return "nan";
            if (double.IsInfinity(v)) return v > 0 ? "inf" : "-inf";
            var inv = CultureInfo.InvariantCulture;
            if (Scientific) return v.ToString("0." + new string('0', Precision) + "e+00", inv);
            if (Whole) return v.ToString("0", inv) + ".";
            return v.ToString("F" + Precision, inv);
        }
    }
}
