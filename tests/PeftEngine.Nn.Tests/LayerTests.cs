using PeftEngine.Nn;

namespace PeftEngine.Tests;

public class LayerTests
{
    /// <summary>The input followed by every parameter tensor of the module, for a gradcheck that perturbs them in place.</summary>
    internal static Tensor[] WithParameters(Module m, params Tensor[] inputs) =>
        inputs.Concat(m.Parameters().Select(p => p.Data)).ToArray();

    [Fact]
    public void LinearMatchesExplicitMatMulAndHasTorchInitBounds()
    {
        using var lin = new Linear(7, 5, generator: new Generator(1));
        Assert.Equal(new Shape(5, 7), lin.Weight.Shape);
        double bound = 1 / Math.Sqrt(7);
        Assert.All(lin.Weight.Data.ToDoubleArray(), v => Assert.InRange(Math.Abs(v), 0, bound));
        Assert.All(lin.Bias!.Data.ToDoubleArray(), v => Assert.InRange(Math.Abs(v), 0, bound));
        using var x = TestData.Uniform(2, new Shape(2, 3, 7), DType.F32);
        using var y = lin.Forward(x);
        using var wt = Ops.Transpose(lin.Weight, 0, 1);
        using var xw = Ops.MatMul(x, wt);
        using var expected = Ops.Add(xw, lin.Bias!.Data);
        TestData.AssertClose(expected, y, 1e-5);
    }

    [Fact]
    public void LinearGradcheck()
    {
        using var lin = new Linear(4, 3, dtype: DType.F64, generator: new Generator(1));
        using var x = TestData.Param(3, 2, 4);
        TestData.AssertGradients(_ => lin.Forward(x), WithParameters(lin, x));
        using var noBias = new Linear(4, 3, bias: false, dtype: DType.F64);
        Assert.Null(noBias.Bias);
        TestData.AssertGradients(_ => noBias.Forward(x), WithParameters(noBias, x));
    }

    [Fact]
    public void Gpt2Conv1DIsLinearWithTransposedWeight()
    {
        using var conv = new Conv1D(5, 3, DType.F64, new Generator(4));
        Assert.Equal(new Shape(3, 5), conv.Weight.Shape);
        using (GradMode.Disable()) Init.Uniform(conv.Bias.Data, -1, 1, new Generator(5));
        using var x = TestData.Param(6, 2, 3);
        using var y = conv.Forward(x);
        using var xw = Ops.MatMul(x, conv.Weight);
        using var expected = Ops.Add(xw, conv.Bias.Data);
        TestData.AssertClose(expected, y, 1e-12);
        TestData.AssertGradients(_ => conv.Forward(x), WithParameters(conv, x));
    }

    [Fact]
    public void EmbeddingLooksUpRowsAndZeroesThePaddingRow()
    {
        using var emb = new Embedding(6, 3, paddingIdx: 2, dtype: DType.F64, generator: new Generator(7));
        Assert.Equal(new double[3], Ops.Select(emb.Weight, 0, 2).ToDoubleArray());
        using var ids = Tensor.FromArray(new long[] { 5, 0, 2, 5 }, 2, 2);
        using var y = emb.Forward(ids);
        Assert.Equal(new Shape(2, 2, 3), y.Shape);
        var w = emb.Weight.Data.ToDoubleArray();
        Assert.Equal(w[15..18], y.ToDoubleArray()[0..3]);
        TestData.AssertGradients(_ => emb.Forward(ids), WithParameters(emb));
    }

    [Fact]
    public void LayerNormMatchesExplicitFormula()
    {
        using var ln = new LayerNorm(5, dtype: DType.F64);
        using (GradMode.Disable())
        {
            Init.Uniform(ln.Weight!.Data, 0.5, 1.5, new Generator(1));
            Init.Uniform(ln.Bias!.Data, -1, 1, new Generator(2));
        }
        using var x = TestData.Param(8, 3, 5);
        using var y = ln.Forward(x);
        using var mean = Ops.Mean(x, -1, keepDim: true);
        using var centred = Ops.Sub(x, mean);
        using var sq = Ops.Square(centred);
        using var variance = Ops.Mean(sq, -1, keepDim: true);
        using var ve = Ops.Add(variance, 1e-5);
        using var rstd = Ops.Rsqrt(ve);
        using var norm = Ops.Mul(centred, rstd);
        using var scaled = Ops.Mul(norm, ln.Weight!.Data);
        using var expected = Ops.Add(scaled, ln.Bias!.Data);
        TestData.AssertClose(expected, y, 1e-10);
        TestData.AssertGradients(_ => ln.Forward(x), WithParameters(ln, x));
    }

    [Fact]
    public void RmsNormMatchesExplicitFormula()
    {
        using var rms = new RmsNorm(6, eps: 1e-6, dtype: DType.F64);
        using (GradMode.Disable()) Init.Uniform(rms.Weight.Data, 0.5, 1.5, new Generator(3));
        using var x = TestData.Param(9, 2, 6);
        using var y = rms.Forward(x);
        using var sq = Ops.Square(x);
        using var ms = Ops.Mean(sq, -1, keepDim: true);
        using var mse = Ops.Add(ms, 1e-6);
        using var r = Ops.Rsqrt(mse);
        using var n = Ops.Mul(x, r);
        using var expected = Ops.Mul(n, rms.Weight.Data);
        TestData.AssertClose(expected, y, 1e-10);
        TestData.AssertGradients(_ => rms.Forward(x), WithParameters(rms, x));
    }

    [Fact]
    public void DropoutDropsInTrainingAndIsIdentityInEval()
    {
        using var drop = new Dropout(0.5, new Generator(11));
        using var x = Tensor.Ones(new Shape(64, 64));
        using (var y = drop.Forward(x))
        {
            var v = y.ToFloatArray();
            Assert.All(v, e => Assert.True(e == 0 || e == 2));
            int zeros = v.Count(e => e == 0);
            Assert.InRange(zeros, 1700, 2400);
        }
        drop.Eval();
        using var same = drop.Forward(x);
        Assert.All(same.ToFloatArray(), e => Assert.Equal(1f, e));
    }

    [Fact]
    public void SequentialChainsAndNamesItsChildrenByIndex()
    {
        var g = new Generator(5);
        using var seq = new Sequential(new Linear(3, 4, dtype: DType.F64, generator: g), new Activation(ActivationKind.Tanh),
            new Linear(4, 2, dtype: DType.F64, generator: g));
        Assert.Equal(new[] { "0.weight", "0.bias", "2.weight", "2.bias" }, seq.NamedParameters().Select(p => p.Name));
        Assert.Equal(3, seq.Count);
        using var x = TestData.Param(4, 5, 3);
        using var y = seq.Forward(x);
        using var h = seq[0].Forward(x);
        using var a = Ops.Tanh(h);
        using var expected = seq[2].Forward(a);
        TestData.AssertClose(expected, y, 1e-12);
        TestData.AssertGradients(_ => seq.Forward(x), WithParameters(seq, x));
    }

    [Fact]
    public void ModuleDictKeepsInsertionOrder()
    {
        using var d = new ModuleDict { { "b", new Linear(2, 2) }, { "a", new RmsNorm(2) } };
        Assert.Equal(new[] { "b", "a" }, d.Keys);
        Assert.Equal(new[] { "b.weight", "b.bias", "a.weight" }, d.NamedParameters().Select(p => p.Name));
        Assert.IsType<RmsNorm>(d["a"]);
        Assert.True(d.ContainsKey("b"));
    }

    [Fact]
    public void MlpIsFc2OfActivationOfFc1()
    {
        using var mlp = new Mlp(4, 6, ActivationKind.GeluTanh, dtype: DType.F64, generator: new Generator(2));
        using var x = TestData.Param(5, 3, 4);
        using var y = mlp.Forward(x);
        using var h = mlp.Fc1.Forward(x);
        using var a = Ops.Gelu(h, "tanh");
        using var expected = mlp.Fc2.Forward(a);
        TestData.AssertClose(expected, y, 1e-12);
        TestData.AssertGradients(_ => mlp.Forward(x), WithParameters(mlp, x));
    }

    [Fact]
    public void GatedMlpIsLlamaSwiGlu()
    {
        using var mlp = new GatedMlp(4, 6, dtype: DType.F64, generator: new Generator(3));
        Assert.Equal(new[] { "gate_proj.weight", "up_proj.weight", "down_proj.weight" }, mlp.NamedParameters().Select(p => p.Name));
        using var x = TestData.Param(6, 2, 3, 4);
        using var y = mlp.Forward(x);
        using var g = Ops.Linear(x, (Tensor)((Linear)mlp.GateProj).Weight);
        using var s = Ops.Silu(g);
        using var u = Ops.Linear(x, (Tensor)((Linear)mlp.UpProj).Weight);
        using var su = Ops.Mul(s, u);
        using var expected = Ops.Linear(su, (Tensor)((Linear)mlp.DownProj).Weight);
        TestData.AssertClose(expected, y, 1e-12);
        TestData.AssertGradients(_ => mlp.Forward(x), WithParameters(mlp, x));
    }
}
