using PeftEngine.IO.Safetensors;
using PeftEngine.Nn;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>DoRA on embeddings and convolutions: hand-computed cases, the magnitude's shape and gradient, parameter
/// counts, and an HF-format adapter whose outputs plain PyTorch math computed (Fixtures/dora_emb_conv/make_fixture.py).</summary>
public class DoraLayerTests
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures", "dora_emb_conv");

    private sealed class Probe : Module
    {
        public Probe(Module emb, Module conv)
        {
            RegisterModule("emb", emb);
            RegisterModule("conv", conv);
        }

        public override Tensor Forward(Tensor x) => GetChild("emb").Forward(x);
    }

    private static void Set(Tensor t, params float[] values)
    {
        using var _ = GradMode.Disable();
        using var v = Tensor.FromArray(values, t.Shape.ToArray());
        Ops.CopyInPlace(t, v);
    }

    private static (PeftModel Peft, LoraLayer Emb, LoraLayer Conv) Wrap(Embedding emb, Conv2d conv, int r = 1, double alpha = 1)
    {
        var peft = PeftModel.Create(new Probe(emb, conv), new LoraConfig { TargetModules = TargetModules.Of("emb", "conv"), R = r, LoraAlpha = alpha, UseDora = true });
        peft.Eval();
        return (peft, peft.Model.GetSubmodule<LoraLayer>("emb"), peft.Model.GetSubmodule<LoraLayer>("conv"));
    }

    private static double[] Forward(LoraLayer layer, Tensor x)
    {
        using var y = layer.Forward(x);
        return y.ToDoubleArray();
    }

    [Fact]
    public void EmbeddingDoraScalesEachEmbeddingDimensionByHand()
    {
        // E = [[3, 0], [4, 1], [0, 2]] (num 3, dim 2). The norm runs over the vocabulary, per dimension:
        // at init (A = 0) m = [‖(3, 4, 0)‖, ‖(0, 1, 2)‖] = [5, √5].
        // A = [[1, 0, 0]], B = [[1], [0]], s = 1: ΔE = (B·A)ᵀ = [[1, 0], [0, 0], [0, 0]], E + ΔE = [[4, 0], [4, 1], [0, 2]],
        // norms [√32, √5], λ = [5/√32, 1]; y(id) = λ ⊙ (E + ΔE)[id]: id 0 -> [20/√32, 0], id 1 -> [20/√32, 1]
        var emb = new Embedding(3, 2);
        Set(emb.Weight, 3, 0, 4, 1, 0, 2);
        var (peft, layer, _) = Wrap(emb, new Conv2d(1, 1, (1, 1)));
        using (peft)
        {
            var m = layer.MagnitudeVector["default"].Weight;
            Assert.Equal(new Shape(2), m.Shape);
            TestData.AssertClose(new[] { 5, Math.Sqrt(5) }, m.Data.ToDoubleArray(), 1e-6, 1e-6);
            var (a, b) = layer.Factors("default");
            Set(a, 1, 0, 0);
            Set(b, 1, 0);
            using var ids = Tensor.FromArray(new long[] { 0, 1 }, 1, 2);
            double f = 5 / Math.Sqrt(32);
            TestData.AssertClose(new[] { 4 * f, 0, 4 * f, 1 }, Forward(layer, ids), 1e-6, 1e-6);
            peft.MergeAdapter();
            TestData.AssertClose(new[] { 4 * f, 0, 4 * f, 1, 0, 2 }, emb.Weight.Data.ToDoubleArray(), 1e-6, 1e-6);
            TestData.AssertClose(new[] { 4 * f, 0, 4 * f, 1 }, Forward(layer, ids), 1e-6, 1e-6);
            peft.UnmergeAdapter();
            TestData.AssertClose(new double[] { 3, 0, 4, 1, 0, 2 }, emb.Weight.Data.ToDoubleArray(), 1e-6, 1e-6);
        }
    }

    [Fact]
    public void EmbeddingDoraGradientsTreatTheNormAsAConstant()
    {
        // same numbers; L = Σ y over ids 0 and 1. With the norm detached:
        // dL/dm_j = Σ_id (E + ΔE)[id, j] / n_j = [8/√32, 1/√5]; dL/dB[j, 0] = λ_j · s · Σ_id A[0, id] = λ_j
        var emb = new Embedding(3, 2);
        Set(emb.Weight, 3, 0, 4, 1, 0, 2);
        var (peft, layer, _) = Wrap(emb, new Conv2d(1, 1, (1, 1)));
        using (peft)
        {
            peft.Train();
            var (a, b) = layer.Factors("default");
            Set(a, 1, 0, 0);
            Set(b, 1, 0);
            using var ids = Tensor.FromArray(new long[] { 0, 1 }, 1, 2);
            using var y = layer.Forward(ids);
            using var sum = Ops.Sum(y);
            sum.Backward();
            TestData.AssertClose(new[] { 8 / Math.Sqrt(32), 1 / Math.Sqrt(5) }, layer.MagnitudeVector["default"].Weight.Grad!.ToDoubleArray(), 1e-6, 1e-6);
            TestData.AssertClose(new[] { 5 / Math.Sqrt(32), 1 }, b.Grad!.ToDoubleArray(), 1e-6, 1e-6);
        }
    }

    [Fact]
    public void Conv2dDoraNormsEachOutputChannelOverChannelsAndKernelByHand()
    {
        // Conv2d(2 -> 2, kernel (1, 2)), W[0] = [1, 1, 1, 1], W[1] = [0, 0, 3, 4] (flattened C·kh·kw), bias [0.5, -1].
        // At init m = [2, 5], stored (1, O, 1, 1). A (1, 2, 1, 2) = [1, 0, 0, 0], B (2, 1, 1, 1) = [2, 0], s = 1:
        // V[0] = W[0] + 2·A = [3, 1, 1, 1] (norm √12), V[1] = W[1] (norm 5), λ = [2/√12, 1].
        // x (1, 2, 1, 2) = [1, 2, 3, 4]: y = λ ⊙ (V·x) + b = [2/√12 · 12 + 0.5, 25 − 1]
        var conv = new Conv2d(2, 2, (1, 2));
        Set(conv.Weight, 1, 1, 1, 1, 0, 0, 3, 4);
        Set(conv.Bias!, 0.5f, -1);
        var (peft, _, layer) = Wrap(new Embedding(2, 2), conv);
        using (peft)
        {
            var m = layer.MagnitudeVector["default"].Weight;
            Assert.Equal(new Shape(1, 2, 1, 1), m.Shape);
            TestData.AssertClose(new double[] { 2, 5 }, m.Data.ToDoubleArray(), 1e-6, 1e-6);
            var (a, b) = layer.Factors("default");
            Set(a, 1, 0, 0, 0);
            Set(b, 2, 0);
            using var x = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 1, 2, 1, 2);
            var expected = new[] { 24 / Math.Sqrt(12) + 0.5, 24 };
            TestData.AssertClose(expected, Forward(layer, x), 1e-5, 1e-6);
            peft.MergeAdapter();
            double f = 2 / Math.Sqrt(12);
            TestData.AssertClose(new[] { 3 * f, f, f, f, 0, 0, 3, 4 }, conv.Weight.Data.ToDoubleArray(), 1e-6, 1e-6);
            TestData.AssertClose(expected, Forward(layer, x), 1e-5, 1e-6);
            peft.UnmergeAdapter();
            TestData.AssertClose(new double[] { 1, 1, 1, 1, 0, 0, 3, 4 }, conv.Weight.Data.ToDoubleArray(), 1e-6, 1e-6);

            // dΣy/dm_o = (V_o·x) / n_o = [12/√12, 25/5]
            peft.Train();
            using var y = layer.Forward(x);
            using var sum = Ops.Sum(y);
            sum.Backward();
            TestData.AssertClose(new[] { Math.Sqrt(12), 5 }, m.Grad!.ToDoubleArray(), 1e-5, 1e-6);
        }
    }

    [Fact]
    public void DoraAddsOneMagnitudePerEmbeddingDimensionOrOutputChannel()
    {
        // TestEmbModel emb (100 x 5), r = 3: r·(num + dim) = 315, DoRA + dim = 5
        using var emb = PeftModel.Create(new TestEmbModel(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("emb"), R = 3, UseDora = true });
        Assert.Equal(315L + 5, emb.GetNbTrainableParameters().Trainable);
        // TestConvModel conv (10, 5, 3, 3), r = 2: A 2·5·9 + B 10·2 = 110, DoRA + O = 10
        using var conv = PeftModel.Create(new TestConvModel(new Generator(1)), new LoraConfig { TargetModules = TargetModules.Of("conv"), R = 2, UseDora = true });
        Assert.Equal(110L + 10, conv.GetNbTrainableParameters().Trainable);
        Assert.Equal(new Shape(1, 10, 1, 1), conv.Model.GetSubmodule<LoraLayer>("conv").MagnitudeVector["default"].Weight.Shape);
    }

    [Fact]
    public void DoraConv1dKeepsTheMagnitudeShapeOneOutOne()
    {
        // Conv1d(2 -> 3, k 2), init: the magnitude (1, 3, 1) equals the kernel norms and the layer is the base layer
        var conv = new Conv1d(2, 3, 2, generator: new Generator(3));
        var peft = PeftModel.Create(new Probe(new Embedding(2, 2), conv), new LoraConfig { TargetModules = TargetModules.Of("conv"), R = 2, UseDora = true });
        using (peft)
        {
            peft.Eval();
            var layer = peft.Model.GetSubmodule<LoraLayer>("conv");
            var m = layer.MagnitudeVector["default"].Weight;
            Assert.Equal(new Shape(1, 3, 1), m.Shape);
            var w = conv.Weight.Data.ToDoubleArray();
            var norms = Enumerable.Range(0, 3).Select(o => Math.Sqrt(w.Skip(4 * o).Take(4).Sum(v => v * v))).ToArray();
            TestData.AssertClose(norms, m.Data.ToDoubleArray(), 1e-6, 1e-6);
            using var x = TestData.Uniform(5, new Shape(2, 2, 6), DType.F32);
            double[] adapted = Forward(layer, x), plain;
            using (peft.DisableAdapter()) plain = Forward(layer, x);
            TestData.AssertClose(plain, adapted, 1e-6, 1e-6);
        }
    }

    // Σ y ⊙ g for a fixed random g: a scalar loss of one layer's output
    private static Tensor Loss(LoraLayer layer, Tensor x, Tensor g)
    {
        using var y = layer.Forward(x);
        using var yg = Ops.Mul(y, g);
        return Ops.Sum(yg);
    }

    // Central differences of the loss in each element of t (the loss is linear in the magnitude and in the
    // conv input, so the difference quotient is exact up to float32 rounding).
    private static double[] FiniteDifferences(LoraLayer layer, Tensor x, Tensor g, Tensor t, double h = 1e-2)
    {
        using var _ = GradMode.Disable();
        var values = t.ToFloatArray();
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            double Eval(float v)
            {
                var copy = (float[])values.Clone();
                copy[i] = v;
                Set(t, copy);
                using var l = Loss(layer, x, g);
                return l.ToDoubleArray()[0];
            }
            result[i] = (Eval(values[i] + (float)h) - Eval(values[i] - (float)h)) / (2 * h);
        }
        Set(t, values);
        return result;
    }

    [Fact]
    public void DoraMagnitudeAndInputGradientsMatchFiniteDifferences()
    {
        // random, trained-looking adapters (B != 0, m != its initial norm) on Conv2d(3 -> 4, 3x3, padding 1) and
        // Embedding(6, 5); the autograd gradients of m and of the conv input equal central differences
        var conv = new Conv2d(3, 4, (3, 3), padding: (1, 1), generator: new Generator(11));
        var emb = new Embedding(6, 5, generator: new Generator(12));
        var peft = PeftModel.Create(new Probe(emb, conv), new LoraConfig { TargetModules = TargetModules.Of("emb", "conv"), R = 2, LoraAlpha = 3, UseDora = true, InitLoraWeights = LoraInit.Random }, generator: new Generator(13));
        using (peft)
        {
            peft.Eval();
            foreach (var name in new[] { "emb", "conv" })
            {
                var layer = peft.Model.GetSubmodule<LoraLayer>(name);
                var m = layer.MagnitudeVector["default"].Weight;
                using (GradMode.Disable())
                using (var u = TestData.Uniform(14, m.Shape, DType.F32, 0.5, 1.5))
                using (var scaled = Ops.Mul(m.Data, u))
                    Ops.CopyInPlace(m, scaled);
                bool isConv = name == "conv";
                using var x = isConv ? TestData.Uniform(15, new Shape(2, 3, 4, 5), DType.F32) : Tensor.FromArray(new long[] { 0, 5, 2, 2, 3 }, 1, 5);
                if (isConv) x.RequireGrad();
                using var probe = layer.Forward(x);
                using var g = TestData.Uniform(16, probe.Shape, DType.F32);
                m.Grad?.Dispose();
                m.Grad = null;
                using (var l = Loss(layer, x, g)) l.Backward();
                TestData.AssertClose(FiniteDifferences(layer, x, g, m), m.Grad!.ToDoubleArray(), 2e-3, 2e-3, name + " magnitude gradient");
                if (isConv) TestData.AssertClose(FiniteDifferences(layer, x, g, x), x.Grad!.ToDoubleArray(), 2e-3, 2e-3, "conv input gradient");
            }
        }
    }

    private static (Probe Model, SafetensorsFile Expected) LoadFixture()
    {
        var model = new Probe(new Embedding(7, 4), new Conv2d(3, 4, (3, 3), padding: (1, 1)));
        using (var f = SafetensorsFile.Open(Path.Combine(Root, "base.safetensors")))
        using (GradMode.Disable())
            foreach (var (name, p) in model.NamedParameters())
            {
                using var t = f.Load(name);
                Ops.CopyInPlace(p, t);
            }
        return (model, SafetensorsFile.Open(Path.Combine(Root, "expected.safetensors")));
    }

    [Fact]
    public void HfDoraAdapterOnEmbeddingAndConv2dGivesTheReferenceOutputs()
    {
        var (model, expected) = LoadFixture();
        using (expected)
        using (var peft = PeftModel.FromPretrained(model, Path.Combine(Root, "adapter")))
        using (var ids = expected.Load("ids"))
        using (var x = expected.Load("x", DType.F32))
        {
            peft.Eval();
            var emb = peft.Model.GetSubmodule<LoraLayer>("emb");
            var conv = peft.Model.GetSubmodule<LoraLayer>("conv");
            Assert.Equal(new Shape(4), emb.MagnitudeVector["default"].Weight.Shape);
            Assert.Equal(new Shape(1, 4, 1, 1), conv.MagnitudeVector["default"].Weight.Shape);
            double[] Exp(string k) { using var t = expected.Load(k); return t.ToDoubleArray(); }
            using (var n = DoraMath.WeightNorm(emb, "default")) TestData.AssertClose(Exp("emb.norm"), n.ToDoubleArray(), 1e-5, 1e-5, "embedding norm");
            using (var n = DoraMath.WeightNorm(conv, "default")) TestData.AssertClose(Exp("conv.norm"), n.ToDoubleArray(), 1e-5, 1e-5, "conv norm");
            TestData.AssertClose(Exp("emb.out"), Forward(emb, ids), 1e-5, 1e-5, "embedding output");
            TestData.AssertClose(Exp("conv.out"), Forward(conv, x), 1e-5, 1e-5, "conv output");

            peft.MergeAdapter();
            TestData.AssertClose(Exp("emb.merged"), ((Embedding)emb.BaseLayer).Weight.Data.ToDoubleArray(), 1e-5, 1e-5, "merged embedding");
            TestData.AssertClose(Exp("conv.merged"), ((Conv2d)conv.BaseLayer).Weight.Data.ToDoubleArray(), 1e-5, 1e-5, "merged conv");
            TestData.AssertClose(Exp("emb.out"), Forward(emb, ids), 1e-5, 1e-5, "merged embedding output");
            TestData.AssertClose(Exp("conv.out"), Forward(conv, x), 1e-5, 1e-5, "merged conv output");
            peft.UnmergeAdapter();

            using var f = SafetensorsFile.Open(Path.Combine(Root, "base.safetensors"));
            using (var e = f.Load("emb.weight")) TestData.AssertClose(e.ToDoubleArray(), ((Embedding)emb.BaseLayer).Weight.Data.ToDoubleArray(), 1e-5, 1e-5, "unmerged embedding");
            using (var c = f.Load("conv.weight")) TestData.AssertClose(c.ToDoubleArray(), ((Conv2d)conv.BaseLayer).Weight.Data.ToDoubleArray(), 1e-5, 1e-5, "unmerged conv");
            using (peft.DisableAdapter())
            using (var e = f.Load("emb.weight"))
            using (var baseOut = Ops.Embedding(e, ids))
                TestData.AssertClose(baseOut.ToDoubleArray(), Forward(emb, ids), 1e-6, 1e-6, "disabled");
        }
    }

    [Fact]
    public void DoraAdapterSavesBackTheFileHfWrote()
    {
        var (model, expected) = LoadFixture();
        expected.Dispose();
        using var peft = PeftModel.FromPretrained(model, Path.Combine(Root, "adapter"));
        var dir = TempDir();
        try
        {
            peft.SavePretrained(dir);
            using var a = SafetensorsFile.Open(Path.Combine(Root, "adapter", "adapter_model.safetensors"));
            using var b = SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors"));
            Assert.Equal(a.Keys.Order(StringComparer.Ordinal), b.Keys.Order(StringComparer.Ordinal));
            foreach (var k in a.Keys)
            {
                Assert.Equal(a.Info(k).Shape, b.Info(k).Shape);
                Assert.True(a.RawBytes(k).SequenceEqual(b.RawBytes(k)), $"{k}: bytes differ");
            }
        }
        finally { Directory.Delete(dir, true); }
    }
}
