namespace PeftEngine.Tests;

public class ElementwiseParityTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    public void BroadcastArithmeticMatchesReference(DType dtype)
    {
        var a = TestData.Uniform(1, new Shape(5, 7, 33), dtype);
        var b = TestData.Uniform(2, new Shape(7, 1), dtype, 0.5, 2);
        TestData.AssertMatchesReference(x => (x[0] + x[1]) * x[0] / x[1] - x[1], [a, b]);
    }

    [Fact]
    public void StridedOperandsMatchReference()
    {
        var a = TestData.Uniform(3, new Shape(6, 9), DType.F32);
        var b = TestData.Uniform(4, new Shape(9, 6), DType.F32);
        TestData.AssertMatchesReference(x => Ops.Mul(x[0], Ops.Transpose(x[1], 0, 1)), [a, b]);
        TestData.AssertMatchesReference(x => Ops.Sum(Ops.Slice(x[0], 1, 1, 9, 3), 0), [a]);
    }
}
