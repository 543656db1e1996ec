namespace PeftEngine.Tests;

/// <summary>The strided paths of the fast copy kernel, once per element size (1, 2, 4 and 8 bytes), checked
/// value by value against index arithmetic.</summary>
public class StridedCopyTests
{
    [Theory]
    [InlineData(DType.U8)]
    [InlineData(DType.BF16)]
    [InlineData(DType.F32)]
    [InlineData(DType.I32)]
    [InlineData(DType.F64)]
    [InlineData(DType.I64)]
    public void TransposedAndSteppedCopiesMoveEveryElement(DType dtype)
    {
        const int a = 3, b = 67, c = 130;   // a·b·c > the parallel threshold, odd sizes
        var values = new double[a * b * c];
        for (int i = 0; i < values.Length; i++) values[i] = i % 251;   // exact in every dtype above
        using var f64 = Tensor.FromArray(values, a, b, c);
        using var x = f64.To(dtype);

        // (a, b, c) -> (a, c, b): the contiguous result reads x with stride c along its last dimension.
        using var t = Ops.Transpose(x, 1, 2);
        using var tc = Ops.Contiguous(t);
        var got = tc.ToDoubleArray();
        for (int i = 0; i < a; i++)
            for (int k = 0; k < c; k++)
                for (int j = 0; j < b; j++)
                    Assert.Equal(values[(i * b + j) * c + k], got[(i * c + k) * b + j]);

        // Strided on both sides: every third column of x written into every other column of a zero tensor.
        using var zeros = Tensor.Zeros(new Shape(a, b, 2 * 44), dtype);
        using var dst = Ops.Slice(zeros, 2, 0, 2 * 44, 2);      // (a, b, 44), stride 2
        using var src = Ops.Slice(x, 2, 1, c, 3);               // (a, b, 43): 1, 4, …, 127
        using var dstPart = Ops.Narrow(dst, 2, 0, 43);
        Ops.CopyInPlace(dstPart, src);
        var z = zeros.ToDoubleArray();
        for (int i = 0; i < a; i++)
            for (int j = 0; j < b; j++)
                for (int k = 0; k < 88; k++)
                {
                    double expected = k % 2 == 0 && k / 2 < 43 ? values[(i * b + j) * c + 1 + 3 * (k / 2)] : 0;
                    Assert.Equal(expected, z[(i * b + j) * 88 + k]);
                }
    }
}
