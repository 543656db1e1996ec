using System.Text;

namespace PeftEngine;

/// <summary>The sizes of a tensor's dimensions. Immutable.</summary>
/// <remarks>PyTorch: torch.Size.</remarks>
public readonly struct Shape : IEquatable<Shape>
{
    private readonly int[]? _dims;

    public Shape(params int[] dims)
    {
        foreach (int d in dims)
            if (d < 0) throw new ArgumentException($"shape {Format(dims)} has a negative dimension");
        _dims = (int[])dims.Clone();
    }

    private Shape(int[] dims, bool _) => _dims = dims;

    internal static Shape Wrap(int[] dims) => new(dims, true);

    /// <summary>The number of dimensions.</summary>
    public int Rank => _dims?.Length ?? 0;

    /// <summary>The size of dimension <paramref name="dim"/>; negative counts from the end.</summary>
    public int this[int dim] => Dims[Normalize(dim)];

    /// <summary>The sizes as a read-only span.</summary>
    public ReadOnlySpan<int> Dims => _dims ?? [];

    /// <summary>The total number of elements (1 for a scalar).</summary>
    public long Numel
    {
        get
        {
            long n = 1;
            foreach (int d in Dims) n *= d;
            return n;
        }
    }

    /// <summary>A copy of the sizes.</summary>
    public int[] ToArray() => Dims.ToArray();

    /// <summary>Maps a possibly negative dimension index to 0..Rank-1, or throws naming the shape.</summary>
    public int Normalize(int dim)
    {
        int r = Rank;
        int d = dim < 0 ? dim + r : dim;
        if (d < 0 || d >= Math.Max(r, 1) || (r == 0))
            throw new ArgumentOutOfRangeException(nameof(dim), $"dimension {dim} is out of range for shape {this}");
        return d;
    }

    /// <summary>Row-major (C order) strides for this shape, in elements.</summary>
    public long[] ContiguousStrides()
    {
        var strides = new long[Rank];
        long s = 1;
        for (int i = Rank - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= Math.Max(Dims[i], 1);
        }
        return strides;
    }

    /// <summary>The shape two operands broadcast to (NumPy rules), or an error naming both.</summary>
    public static Shape Broadcast(Shape a, Shape b)
    {
        int r = Math.Max(a.Rank, b.Rank);
        var dims = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i < r - a.Rank ? 1 : a.Dims[i - (r - a.Rank)];
            int db = i < r - b.Rank ? 1 : b.Dims[i - (r - b.Rank)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"shapes {a} and {b} cannot be broadcast together (dimension {i}: {da} vs {db})");
            dims[i] = da == 1 ? db : da;
        }
        return Wrap(dims);
    }

    public bool Equals(Shape other) => Dims.SequenceEqual(other.Dims);
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (int d in Dims) h.Add(d);
        return h.ToHashCode();
    }
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);
    public static implicit operator Shape(int[] dims) => new(dims);

    public override string ToString() => Format(Dims);

    private static string Format(ReadOnlySpan<int> dims)
    {
        var sb = new StringBuilder("(");
        for (int i = 0; i < dims.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(dims[i]);
        }
        if (dims.Length == 1) sb.Append(',');
        return sb.Append(')').ToString();
    }
}
