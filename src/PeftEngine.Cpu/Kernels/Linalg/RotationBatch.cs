using System.Runtime.Intrinsics;

namespace PeftEngine.Cpu;

/// <summary>
/// A sequence of plane rotations of neighbouring rows of one row-major matrix W (rows × len), recorded as they
/// are generated and applied later, many at a time. Rotation (j, c, s) replaces rows j and j+1 by
/// <c>w_j' = c·w_j + s·w_{j+1}</c> and <c>w_{j+1}' = c·w_{j+1} - s·w_j</c> (LAPACK's drot / dlasr convention).
/// Applying thousands of rotations one by one would stream the whole matrix through memory for each; instead
/// the matrix is cut into strips of <see cref="Strip"/> columns and every recorded rotation runs over one strip
/// before the next strip is touched, so a strip (rows × 32 doubles) stays in the L2 cache while the whole
/// sequence passes over it. Strips are independent, so they run in parallel and the result does not depend on
/// the thread count.
/// </summary>
/// <remarks>Used by the bidiagonal QR iteration of <see cref="GolubKahanSvd"/> to accumulate the singular
/// vectors; LAPACK: dlasr (applied per sweep there).</remarks>
internal sealed unsafe class RotationBatch
{
    /// <summary>Columns per strip: four 512-bit vectors of doubles.</summary>
    private const int Strip = 32;

    private readonly double* _w;
    private readonly int _rows, _len, _capacity;
    private readonly int[] _index;
    private readonly double[] _cos, _sin;
    private int _count;

    /// <param name="w">The matrix the rotations act on, row-major.</param>
    /// <param name="rows">Its row count.</param>
    /// <param name="len">Its row length.</param>
    /// <param name="capacity">Rotations kept before they are applied (memory: 20 bytes each).</param>
    public RotationBatch(double* w, int rows, int len, int capacity = 1 << 19)
    {
        _w = w;
        _rows = rows;
        _len = len;
        _capacity = capacity;
        _index = new int[capacity];
        _cos = new double[capacity];
        _sin = new double[capacity];
    }

    /// <summary>Records the rotation of rows j and j+1 by (c, s); applies the batch when it is full.</summary>
    public void Add(int j, double c, double s)
    {
        if ((uint)j >= (uint)(_rows - 1))
            throw new ArgumentOutOfRangeException(nameof(j), $"RotationBatch: row pair ({j}, {j + 1}) outside {_rows} rows");
        if (c == 1 && s == 0) return;
        _index[_count] = j;
        _cos[_count] = c;
        _sin[_count] = s;
        if (++_count == _capacity) Flush();
    }

    /// <summary>Applies every recorded rotation, in the order recorded, and empties the batch.</summary>
    public void Flush()
    {
        if (_count == 0) return;
        int count = _count, len = _len;
        int strips = (len + Strip - 1) / Strip;
        double* w = _w;
        int[] index = _index;
        double[] cos = _cos, sin = _sin;
        CpuParallel.For(strips, 6L * Strip * count, (s0, s1) =>
        {
            for (long st = s0; st < s1; st++)
            {
                int c0 = (int)st * Strip, width = Math.Min(Strip, len - c0);
                if (width == Strip && Vector512.IsHardwareAccelerated) ApplyStrip512(w + c0, len, index, cos, sin, count);
                else ApplyStripScalar(w + c0, len, width, index, cos, sin, count);
            }
        });
        _count = 0;
    }

    /// <summary>All rotations over one 32-column strip (four vectors, four independent dependency chains).
    /// Consecutive rotations of a QR sweep share a row (j then j+1): the shared row is kept in registers
    /// instead of being stored and loaded again.</summary>
    private static void ApplyStrip512(double* w, int len, int[] index, double[] cos, double[] sin, int count)
    {
        int carried = -1;                                  // the row whose new value is in y0..y3, not yet stored
        Vector512<double> y0 = default, y1 = default, y2 = default, y3 = default;
        for (int k = 0; k < count; k++)
        {
            int j = index[k];
            double* pj = w + (long)j * len, pk = pj + len;
            Vector512<double> x0, x1, x2, x3;
            if (carried == j) { x0 = y0; x1 = y1; x2 = y2; x3 = y3; }
            else
            {
                if (carried >= 0) Store(w + (long)carried * len, y0, y1, y2, y3);
                x0 = Vector512.Load(pj);
                x1 = Vector512.Load(pj + 8);
                x2 = Vector512.Load(pj + 16);
                x3 = Vector512.Load(pj + 24);
            }
            var n0 = Vector512.Load(pk);
            var n1 = Vector512.Load(pk + 8);
            var n2 = Vector512.Load(pk + 16);
            var n3 = Vector512.Load(pk + 24);
            var c = Vector512.Create(cos[k]);
            var s = Vector512.Create(sin[k]);
            Vector512.FusedMultiplyAdd(c, x0, s * n0).Store(pj);
            Vector512.FusedMultiplyAdd(c, x1, s * n1).Store(pj + 8);
            Vector512.FusedMultiplyAdd(c, x2, s * n2).Store(pj + 16);
            Vector512.FusedMultiplyAdd(c, x3, s * n3).Store(pj + 24);
            y0 = Vector512.FusedMultiplyAdd(c, n0, -(s * x0));
            y1 = Vector512.FusedMultiplyAdd(c, n1, -(s * x1));
            y2 = Vector512.FusedMultiplyAdd(c, n2, -(s * x2));
            y3 = Vector512.FusedMultiplyAdd(c, n3, -(s * x3));
            carried = j + 1;
        }
        if (carried >= 0) Store(w + (long)carried * len, y0, y1, y2, y3);
    }

    private static void Store(double* p, Vector512<double> y0, Vector512<double> y1, Vector512<double> y2, Vector512<double> y3)
    {
        y0.Store(p);
        y1.Store(p + 8);
        y2.Store(p + 16);
        y3.Store(p + 24);
    }

    private static void ApplyStripScalar(double* w, int len, int width, int[] index, double[] cos, double[] sin, int count)
    {
        for (int k = 0; k < count; k++)
        {
            double* pj = w + (long)index[k] * len, pk = pj + len;
            double c = cos[k], s = sin[k];
            for (int i = 0; i < width; i++)
            {
                double x = pj[i], y = pk[i];
                pj[i] = c * x + s * y;
                pk[i] = c * y - s * x;
            }
        }
    }
}
