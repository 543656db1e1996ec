namespace PeftEngine.Tests;

public class ReductionTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void ReductionsAlongEachDimMatchReference(DType dtype)
    {
        double tol = dtype == DType.F32 ? 1e-5 : 1e-12;
        // 37 along the last dimension: more than one element per thread of a group, and not a multiple of it.
        var x = TestData.Uniform(5, new Shape(3, 4, 37), dtype, -3, 3);
        foreach (int dim in new[] { 0, 1, 2 })
            GpuParity.Check([x], t =>
            {
                var outs = new List<Tensor>();
                var yShape = t[0].Shape.ToArray();
                yShape[dim] = 1;
                foreach (var op in Enum.GetValues<ReduceOp>())
                {
                    var y = Tensor.Empty(new Shape(yShape), dtype, t[0].Device);
                    Tensor? idx = op is ReduceOp.Max or ReduceOp.Min ? Tensor.Empty(new Shape(yShape), DType.I64, t[0].Device) : null;
                    t[0].Backend.Reduce(op, t[0], dim, y, idx);
                    outs.Add(y);
                    if (idx is not null) outs.Add(idx);
                }
                return outs.ToArray();
            }, tol, tol);
        x.Dispose();
    }

    [Fact]
    public void ExtremesPickTheFirstOccurrenceAndNaN()
    {
        using var x = Tensor.FromArray(new float[] { 1, 5, 5, 2, float.NaN, 5, -1, -1 }, 2, 4);
        GpuParity.Check([x], t =>
        {
            var outs = new List<Tensor>();
            foreach (var op in new[] { ReduceOp.Max, ReduceOp.Min })
            {
                var y = Tensor.Empty(new Shape(2, 1), DType.F32, t[0].Device);
                var i = Tensor.Empty(new Shape(2, 1), DType.I64, t[0].Device);
                t[0].Backend.Reduce(op, t[0], 1, y, i);
                outs.Add(y);
                outs.Add(i);
            }
            return outs.ToArray();
        }, 0, 0);
    }

    [Fact]
    public void SumAndMeanGradientsMatchReference()
    {
        var x = TestData.Uniform(6, new Shape(5, 9), DType.F64);
        GpuParity.CheckGradients([x], t =>
        {
            using var s = Ops.Sum(t[0], 1, keepDim: true);
            using var m = Ops.Mean(t[0], 0, keepDim: true);
            return Ops.Add(s, m);
        }, 1e-12, 1e-12);
        x.Dispose();
    }

    [Fact]
    public void ScansMatchReference()
    {
        var x = TestData.Uniform(15, new Shape(3, 5, 4), DType.F64, 0.5, 1.5);
        GpuParity.Check([x], t =>
        {
            var outs = new List<Tensor>();
            foreach (var op in new[] { ScanOp.Sum, ScanOp.Prod })
                foreach (int dim in new[] { 1, 2 })
                    foreach (var (rev, exc) in new[] { (false, false), (true, true) })
                    {
                        var y = Tensor.Empty(t[0].Shape, DType.F64, t[0].Device);
                        t[0].Backend.Scan(op, t[0], dim, y, rev, exc);
                        outs.Add(y);
                    }
            return outs.ToArray();
        }, 1e-12, 1e-12);
        x.Dispose();
    }

    [Fact]
    public void SortAndTopKMatchReferenceWithTiesAndNaN()
    {
        // rows of 9 with repeated values and a NaN; sorted along each dimension, both directions
        var v = new float[3 * 9];
        for (int i = 0; i < v.Length; i++) v[i] = (i * 5 % 7) - 3;
        v[4] = float.NaN;
        using var x = Tensor.FromArray(v, 3, 9);
        GpuParity.Check([x], t =>
        {
            var outs = new List<Tensor>();
            foreach (int dim in new[] { 0, 1 })
                foreach (bool desc in new[] { false, true })
                {
                    var (values, indices) = (Tensor.Empty(t[0].Shape, DType.F32, t[0].Device), Tensor.Empty(t[0].Shape, DType.I64, t[0].Device));
                    t[0].Backend.Sort(t[0], dim, desc, values, indices);
                    outs.Add(values);
                    outs.Add(indices);
                }
            var (tv, ti) = (Tensor.Empty(new Shape(3, 4), DType.F32, t[0].Device), Tensor.Empty(new Shape(3, 4), DType.I64, t[0].Device));
            t[0].Backend.TopK(t[0], 1, 4, largest: true, tv, ti);
            outs.Add(tv);
            outs.Add(ti);
            return outs.ToArray();
        }, 0, 0);
    }
}

