namespace PeftEngine.Tests;

public class EinsumTests
{
    [Theory]
    [InlineData("ij,jk->ik", new[] { 3, 4 }, new[] { 4, 5 })]
    [InlineData("bij,bjk->bik", new[] { 2, 3, 4 }, new[] { 2, 4, 5 })]
    [InlineData("bhqd,bhkd->bhqk", new[] { 2, 2, 3, 4 }, new[] { 2, 2, 5, 4 })]
    [InlineData("i,j->ij", new[] { 3 }, new[] { 4 })]
    [InlineData("i,i->", new[] { 5 }, new[] { 5 })]
    [InlineData("ij,kj->ik", new[] { 3, 4 }, new[] { 2, 4 })]
    [InlineData("bi,bi->b", new[] { 3, 4 }, new[] { 3, 4 })]
    [InlineData("ij,jk", new[] { 3, 4 }, new[] { 4, 2 })]           // implicit output "ik"
    [InlineData("ijk,jl->lik", new[] { 2, 3, 4 }, new[] { 3, 2 })]   // free letters in a new order
    [InlineData("ij,kl->", new[] { 2, 3 }, new[] { 2, 2 })]          // letters summed before the product
    public void TwoOperandPatternsMatchTheDefinitionAndGradCheck(string equation, int[] aShape, int[] bShape)
    {
        var a = TestData.Param(1, aShape);
        var b = TestData.Param(2, bShape);
        AssertMatchesDefinition(equation, a, b);
        TestData.AssertGradients(x => Ops.Einsum(equation, x), [a, b]);
    }

    [Theory]
    [InlineData("ij->ji", new[] { 3, 4 })]
    [InlineData("ij->i", new[] { 3, 4 })]
    [InlineData("ij->j", new[] { 3, 4 })]
    [InlineData("ijk->", new[] { 2, 3, 4 })]
    [InlineData("ijk->kij", new[] { 2, 3, 4 })]
    [InlineData("ij->ij", new[] { 3, 4 })]
    public void OneOperandPatterns(string equation, int[] shape)
    {
        var a = TestData.Param(3, shape);
        AssertMatchesDefinition(equation, a);
        TestData.AssertGradients(x => Ops.Einsum(equation, x), [a]);
    }

    [Fact]
    public void BilinearFormOfThreeOperands()
    {
        var x = TestData.Param(4, 3, 4);
        var w = TestData.Param(5, 4, 5);
        var y = TestData.Param(6, 3, 5);
        AssertMatchesDefinition("bi,ij,bj->b", x, w, y);
        TestData.AssertGradients(t => Ops.Einsum("bi,ij,bj->b", t), [x, w, y]);
        AssertMatchesDefinition("ij,jk,kl->il", TestData.Param(7, 2, 3), TestData.Param(8, 3, 4), TestData.Param(9, 4, 2));
    }

    [Fact]
    public void EinsumAgreesWithMatMul()
    {
        using var q = TestData.Uniform(10, new Shape(2, 3, 6, 4));
        using var k = TestData.Uniform(11, new Shape(2, 3, 5, 4));
        using var scores = Ops.Einsum("bhqd,bhkd->bhqk", q, k);
        using var kt = Ops.Transpose(k, -1, -2);
        using var expected = Ops.MatMul(q, kt);
        TestData.AssertClose(expected, scores, atol: 1e-12, rtol: 1e-12);
    }

    [Theory]
    [InlineData("ii->i")]      // diagonal
    [InlineData("...ij->ij")]  // ellipsis
    public void UnsupportedEquationsAreClearErrors(string equation)
    {
        using var a = Tensor.Zeros(new Shape(3, 3), DType.F64);
        var e = Assert.Throws<NotSupportedException>(() => Ops.Einsum(equation, a));
        Assert.Contains("Einsum", e.Message);
    }

    [Fact]
    public void MalformedEquationsAreClearErrors()
    {
        using var a = Tensor.Zeros(new Shape(3, 4), DType.F64);
        using var b = Tensor.Zeros(new Shape(5, 2), DType.F64);
        Assert.Throws<ArgumentException>(() => Ops.Einsum("ij,jk->ik", a, b)); // j is 4 and 5
        Assert.Throws<ArgumentException>(() => Ops.Einsum("ijk->i", a));       // rank mismatch
        Assert.Throws<ArgumentException>(() => Ops.Einsum("ij->iz", a));       // unknown output letter
        Assert.Throws<ArgumentException>(() => Ops.Einsum("ij,jk->ik", a));    // operand count
    }

    /// <summary>Compares Einsum with the definition: every assignment of the letters adds the product of the
    /// operands' elements to the output element its output letters select.</summary>
    private static void AssertMatchesDefinition(string equation, params Tensor[] operands)
    {
        using var actual = Ops.Einsum(equation, operands);
        int arrow = equation.IndexOf("->", StringComparison.Ordinal);
        var terms = (arrow < 0 ? equation : equation[..arrow]).Split(',');
        string output = arrow >= 0 ? equation[(arrow + 2)..]
            : new string(string.Concat(terms).GroupBy(c => c).Where(g => g.Count() == 1).Select(g => g.Key).Order().ToArray());
        var sizes = new Dictionary<char, int>();
        for (int i = 0; i < terms.Length; i++)
            for (int d = 0; d < terms[i].Length; d++) sizes[terms[i][d]] = operands[i].Shape[d];
        var letters = sizes.Keys.ToArray();
        var data = operands.Select(o => o.ToArray<double>()).ToArray();
        var expected = new double[output.Aggregate(1, (s, c) => s * sizes[c])];
        var index = new Dictionary<char, int>();
        long total = letters.Aggregate(1L, (s, c) => s * sizes[c]);
        for (long flat = 0; flat < total; flat++)
        {
            long rest = flat;
            foreach (char c in letters)
            {
                index[c] = (int)(rest % sizes[c]);
                rest /= sizes[c];
            }
            double product = 1;
            for (int i = 0; i < terms.Length; i++) product *= data[i][Flat(terms[i], index, sizes)];
            expected[Flat(output, index, sizes)] += product;
        }
        Assert.Equal(new Shape(output.Select(c => sizes[c]).ToArray()), actual.Shape);
        TestData.AssertClose(expected, actual.ToArray<double>(), atol: 1e-12, rtol: 1e-12, what: equation);
    }

    private static int Flat(string term, Dictionary<char, int> index, Dictionary<char, int> sizes)
    {
        int f = 0;
        foreach (char c in term) f = f * sizes[c] + index[c];
        return f;
    }
}
