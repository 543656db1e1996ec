namespace PeftEngine.Tests;

/// <summary>The fast Where and Compare kernels against the reference kernels, for every dtype they take.</summary>
public class WhereCompareKernelTests
{
    /// <summary>Small whole numbers (many ties), with a few NaNs in float dtypes.</summary>
    private static Tensor Ints(int seed, Shape shape, DType dtype, bool withNaN = false)
    {
        var rng = new Random(seed);
        var v = new double[shape.Numel];
        for (int i = 0; i < v.Length; i++) v[i] = withNaN && rng.Next(50) == 0 ? double.NaN : rng.Next(5);
        using var t = Tensor.FromArray(v, shape.ToArray());
        return t.To(dtype);
    }

    public static TheoryData<CompareOp, DType> CompareCases()
    {
        var data = new TheoryData<CompareOp, DType>();
        foreach (var dtype in new[] { DType.F32, DType.F64, DType.I32, DType.I64, DType.U8 })
            foreach (var op in Enum.GetValues<CompareOp>()) data.Add(op, dtype);
        return data;
    }

    [Theory]
    [MemberData(nameof(CompareCases))]
    public void CompareMatchesReference(CompareOp op, DType dtype)
    {
        bool nan = dtype.IsFloat();
        using var a = Ints(1, new Shape(33, 1031), dtype, nan);   // 34023 elements: runs on several threads
        using var b = Ints(2, new Shape(1031), dtype, nan);
        using var c = Ints(3, new Shape(33, 1), dtype, nan);
        Func<Tensor, Tensor, Tensor> f = (x, y) => Compare(op, x, y);
        TestData.AssertMatchesReference(x => f(x[0], x[1]), [a, b], 0, 0);
        TestData.AssertMatchesReference(x => f(x[1], x[0]), [a, c], 0, 0);
        using var at = Ops.Contiguous(Ops.Transpose(a, 0, 1));
        TestData.AssertMatchesReference(x => f(Ops.Transpose(x[0], 0, 1), x[1]), [at, b], 0, 0);
        TestData.AssertMatchesReference(x => CompareScalar(op, x[0], 2), [a], 0, 0);
    }

    [Fact]
    public void CompareGivesExactMasks()
    {
        using var a = Tensor.FromArray(new[] { 1.0, 2, double.NaN, -1 });
        using var b = Tensor.FromArray(new[] { 1.0, 3, double.NaN, -2 });
        Assert.Equal(new byte[] { 1, 0, 0, 0 }, Mask(Ops.Eq(a, b)));
        Assert.Equal(new byte[] { 0, 1, 1, 1 }, Mask(Ops.Ne(a, b)));
        Assert.Equal(new byte[] { 0, 1, 0, 0 }, Mask(Ops.Lt(a, b)));
        Assert.Equal(new byte[] { 1, 1, 0, 0 }, Mask(Ops.Le(a, b)));
        Assert.Equal(new byte[] { 0, 0, 0, 1 }, Mask(Ops.Gt(a, b)));
        Assert.Equal(new byte[] { 1, 0, 0, 1 }, Mask(Ops.Ge(a, b)));
        Assert.Equal(new byte[] { 0, 1, 0, 0 }, Mask(Ops.Gt(a, 1.5)));

        static byte[] Mask(Tensor t)
        {
            using (t)
            {
                Assert.Equal(DType.U8, t.DType);
                return t.ToArray<byte>();
            }
        }
    }

    public static TheoryData<DType> WhereDTypes() => new(DType.F32, DType.F64, DType.F16, DType.BF16, DType.I32, DType.I64, DType.U8);

    [Theory]
    [MemberData(nameof(WhereDTypes))]
    public void WhereMatchesReference(DType dtype)
    {
        using var a = Ints(4, new Shape(33, 1031), dtype);
        using var b = Ints(5, new Shape(1031), dtype);
        using var s = Tensor.Scalar(7, dtype);
        using var full = Ints(6, new Shape(33, 1031), DType.U8);
        using var cond = Ops.Gt(full, 1);                            // (33, 1031) mask
        using var rowCond = Ops.Lt(b.To(DType.F32), 2.5);            // (1031,) mask, broadcast over rows
        TestData.AssertMatchesReference(x => Ops.Where(x[0], x[1], x[2]), [cond, a, b], 0, 0);
        TestData.AssertMatchesReference(x => Ops.Where(x[0], x[1], x[2]), [rowCond, a, s], 0, 0);
        TestData.AssertMatchesReference(x => Ops.Where(x[0], x[2], x[1]), [rowCond, a, s], 0, 0);
        using var at = Ops.Contiguous(Ops.Transpose(a, 0, 1));
        using var ct = Ops.Contiguous(Ops.Transpose(cond, 0, 1));
        TestData.AssertMatchesReference(x => Ops.Where(Ops.Transpose(x[0], 0, 1), Ops.Transpose(x[1], 0, 1), x[2]), [ct, at, b], 0, 0);
    }

    [Fact]
    public void WhereSelectsByMaskWithBroadcasting()
    {
        using var cond = Tensor.FromArray(new byte[] { 1, 0, 7 });                 // any non-zero byte is true
        using var a = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        using var y = Ops.Where(cond, a, -1.0);
        Assert.Equal(new double[] { 1, -1, 3, 4, -1, 6 }, y.ToArray<double>());
        using var z = Ops.Where(cond, 9.0, a);
        Assert.Equal(new double[] { 9, 2, 9, 9, 5, 9 }, z.ToArray<double>());
    }

    private static Tensor Compare(CompareOp op, Tensor a, Tensor b) => op switch
    {
        CompareOp.Eq => Ops.Eq(a, b),
        CompareOp.Ne => Ops.Ne(a, b),
        CompareOp.Lt => Ops.Lt(a, b),
        CompareOp.Le => Ops.Le(a, b),
        CompareOp.Gt => Ops.Gt(a, b),
        CompareOp.Ge => Ops.Ge(a, b),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    private static Tensor CompareScalar(CompareOp op, Tensor a, double s) => op switch
    {
        CompareOp.Eq => Ops.Eq(a, s),
        CompareOp.Ne => Ops.Ne(a, s),
        CompareOp.Lt => Ops.Lt(a, s),
        CompareOp.Le => Ops.Le(a, s),
        CompareOp.Gt => Ops.Gt(a, s),
        CompareOp.Ge => Ops.Ge(a, s),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };
}
