using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;
using PeftEngine.Peft;
using PeftEngine.Peft.Reft;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>LoReFT / DiReFT: the formula, the orthogonal parametrization, positions under padding, the KV cache,
/// training, checkpointing, parameter count and the file layout.</summary>
public class ReftTests
{
    private static PeftModel Llama(ReftConfig config, ulong seed = 1) =>
        PeftModel.Create(TestLlama.Create(new Generator(42)), config, "default", new Generator(seed));

    private static IEnumerable<OrthogonalRotation> Rotations(PeftModel peft) =>
        peft.NamedModules().Select(nm => nm.Module).OfType<OrthogonalRotation>();

    private static void AssertOrthonormalColumns(Tensor u, double tol, string what)
    {
        int d = u.Shape[0], r = u.Shape[1];
        var a = u.ToDoubleArray();
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++)
            {
                double dot = 0;
                for (int k = 0; k < d; k++) dot += a[k * r + i] * a[k * r + j];
                Assert.True(Math.Abs(dot - (i == j ? 1 : 0)) < tol, $"{what}: (R Rᵀ)[{i},{j}] = {dot:R}");
            }
    }

    [Fact]
    public void PositionSpecParsesAndCapsAtHalfThePrompt()
    {
        Assert.Equal(new ReftPositions(3, 3), ReftPositions.Parse("f3+l3"));
        Assert.Equal(new ReftPositions(0, 2), ReftPositions.Parse("l2"));
        Assert.Equal(new ReftPositions(5, 0), ReftPositions.Parse("f5"));
        Assert.Throws<ArgumentException>(() => ReftPositions.Parse("x3"));
        Assert.Throws<ArgumentException>(() => ReftPositions.Parse("f0"));
        var (f, l) = ReftPositions.Parse("f3+l3").Select(4);        // ⌊4/2⌋ = 2 of each
        Assert.Equal([0, 1], f);
        Assert.Equal([2, 3], l);
        (f, l) = ReftPositions.Parse("f1+l2").Select(7);
        Assert.Equal([0], f);
        Assert.Equal([5, 6], l);
        (f, l) = ReftPositions.Parse("l1").Select(1);               // pyreft: a one-token prompt is not intervened
        Assert.Empty(f);
        Assert.Empty(l);
    }

    [Fact]
    public void HandComputedInterventions()
    {
        // U = (0.6, 0.8, 0)ᵀ, W = (1, 2, 3), b = 0.5, h = (1, -1, 2): R·h = -0.2, W·h + b = 5.5
        using var h = Tensor.FromArray(new double[] { 1, -1, 2 }, 1, 3);
        using var u = Tensor.FromArray(new double[] { 0.6, 0.8, 0 }, 3, 1);
        using var w = Tensor.FromArray(new double[] { 1, 2, 3 }, 1, 3);
        using var b = Tensor.FromArray(new double[] { 0.5 }, 1);
        using var lo = ReftIntervention.Loreft(h, u, w, b);          // h + 5.7·U
        TestData.AssertClose(new[] { 4.42, 3.56, 2.0 }, lo.ToDoubleArray(), 1e-12, 0, "LoReFT");
        using var di = ReftIntervention.Direft(h, u, w, b);          // h + 5.5·U
        TestData.AssertClose(new[] { 4.3, 3.4, 2.0 }, di.ToDoubleArray(), 1e-12, 0, "DiReFT");
        using var relu = ReftIntervention.Loreft(h, u, Ops.Mul(w, -1.0), b, "relu");   // relu(-5.5) = 0: h + 0.2·U
        TestData.AssertClose(new[] { 1.12, -0.84, 2.0 }, relu.ToDoubleArray(), 1e-12, 0, "LoReFT relu");
    }

    [Fact]
    public void Bf16HiddenStatesAreComputedInF32AndHandedBackInBf16()
    {
        using var intervention = new ReftIntervention(8, 2, orthogonal: true, dropout: 0, actFn: null, new Generator(3));
        intervention.Eval();
        using var _ = GradMode.Disable();
        using var h = TestData.Uniform(4, new Shape(2, 3, 8), DType.F32);
        using var hb = h.To(DType.BF16);
        using var y = intervention.Forward(hb);
        Assert.Equal(DType.BF16, y.DType);
        using var hb32 = hb.To(DType.F32);
        using var y32 = intervention.Forward(hb32);
        using var yb32 = y.To(DType.F32);
        TestData.AssertClose(y32.ToDoubleArray(), yb32.ToDoubleArray(), 0.02, 0.01, "bf16 vs f32");
    }

    [Fact]
    public void HouseholderParametrizationMatchesItsClosedForm()
    {
        // d = 2, r = 1, A = [[·], [a]]: v = (1, a), τ = 2 / (1 + a²), U = −(I − τ v vᵀ) e₁ = ((1 − a²), 2a) / (1 + a²)
        using var a = Tensor.FromArray(new double[] { 7, 0.5 }, 2, 1);   // the diagonal entry 7 is not used
        using var q = OrthogonalRotation.HouseholderProduct(a);
        TestData.AssertClose(new[] { 0.6, 0.8 }, q.ToDoubleArray(), 1e-15, 0, "U");
        using var zero = Tensor.Zeros(new Shape(5, 3), DType.F32);
        using var e = OrthogonalRotation.HouseholderProduct(zero);     // A = 0: exactly E
        var ev = e.ToDoubleArray();
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 3; j++) Assert.Equal(i == j ? 1.0 : 0.0, ev[i * 3 + j]);
    }

    [Fact]
    public void GradcheckThroughTheInterventionAndTheParametrization()
    {
        // f(A, W, b, h) = LoReFT(h; U(A), W, b) with U = −B·H₁⋯H_r·E, all in float64
        using var basis = OrthogonalRotation.RandomOrthogonal(5, 5, new Generator(3));
        using var b64 = basis.To(DType.F64);
        using var a = TestData.Param(1, 5, 2);
        using var w = TestData.Param(2, 2, 5);
        using var bias = TestData.Param(3, 2);
        using var h = TestData.Param(4, 3, 4, 5);
        TestData.AssertGradients(xs =>
        {
            using var u = OrthogonalRotation.Materialize(xs[0], b64);
            return ReftIntervention.Loreft(xs[3], u, xs[1], xs[2], "tanh");
        }, [a, w, bias, h]);
        using var ht = TestData.Param(5, 5, 3);                        // a transposed (non-contiguous) input
        TestData.AssertGradients(xs =>
        {
            using var hv = Ops.Transpose(xs[3], 0, 1);
            return ReftIntervention.Direft(hv, xs[0], xs[1], xs[2]);
        }, [TestData.Param(6, 5, 2), w, bias, ht]);
    }

    [Fact]
    public void ROrthonormalAfterAdamWSteps()
    {
        // layer 0 only: at the last layer a prompt position's output reaches only its own logits, which a prompt
        // label of -100 leaves out of the loss
        using var peft = Llama(new LoreftConfig { Layers = [0], Positions = "f1+l1", LowRankDimension = 4 });
        using var ids = TestLlama.Input();
        var before = Rotations(peft).Select(r => { using var u = r.Weight(); return u.ToDoubleArray(); }).ToList();
        using var opt = new AdamW(peft.Parameters().Where(p => p.RequiresGrad), lr: 0.05, weightDecay: 0.1);
        // prompt = the first 3 tokens (labels -100), answer = the last 2: every prompt position reaches the loss
        var labelData = ids.ToDoubleArray().Select((v, i) => i % 5 < 3 ? -100L : (long)v).ToArray();
        using var labels = Tensor.FromArray(labelData, 3, 5);
        ICausalLanguageModel lm = peft;
        peft.Train();
        for (int step = 0; step < 8; step++)
        {
            opt.ZeroGrad();
            using var loss = lm.Loss(ids, labels);
            loss.Backward();
            opt.Step();
        }
        var rotations = Rotations(peft).ToList();
        Assert.Equal(2, rotations.Count);                              // first and last
        for (int i = 0; i < rotations.Count; i++)
        {
            using var u = rotations[i].Weight();
            AssertOrthonormalColumns(u, 1e-5, $"rotation {i}");
            AssertDiffers(before[i], u.ToDoubleArray(), 1e-3, $"rotation {i} after training");
        }
    }

    [Fact]
    public void TrainingLowersTheLoss()
    {
        using var peft = Llama(new LoreftConfig { Layers = [0, 1], Positions = "f2+l2", LowRankDimension = 4 });
        using var ids = TestLlama.Input();
        using var opt = new AdamW(peft.Parameters().Where(p => p.RequiresGrad), lr: 2e-2, weightDecay: 0);
        var (first, last) = TrainLanguageModel(peft, opt, ids, steps: 15);
        Assert.True(last < first - 0.1, $"loss {first:F4} -> {last:F4}");
        Assert.All(peft.NamedParameters().Where(np => !np.Name.Contains(".reft.")), np => Assert.Null(np.Parameter.Data.Grad));
    }

    [Theory]
    [InlineData(true, 264)]      // 2 layers × (2·4·16 + 4)
    [InlineData(false, 528)]     // first and last groups: twice as many
    public void ParameterCount(bool share, long expected)
    {
        using var peft = Llama(new LoreftConfig { Layers = [0, 1], Positions = "f1+l1", LowRankDimension = 4, ShareWeights = share });
        Assert.Equal(expected, peft.GetNbTrainableParameters().Trainable);
        using var di = Llama(new DireftConfig { Layers = [1], Positions = "l1", LowRankDimension = 4 });
        Assert.Equal(132, di.GetNbTrainableParameters().Trainable);
    }

    /// <summary>Layer-0 outputs with the adapter and without it, recorded by a hook placed after ReFT's.</summary>
    private static (double[] With, double[] Without) Layer0(PeftModel peft, Func<Tensor> run)
    {
        var host = ((LlamaModel)peft.Model).Transformer;
        double[]? seen = null;
        Tensor? Record(int layer, Tensor hidden, int past)
        {
            if (layer == 0) seen = hidden.ToDoubleArray();
            return null;
        }
        host.LayerOutputHooks.Add(Record);
        try
        {
            peft.Eval();
            using var _ = GradMode.Disable();
            using (run()) { }
            var with = seen!;
            using (peft.DisableAdapter()) using (run()) { }
            return (with, seen!);
        }
        finally { host.LayerOutputHooks.Remove(Record); }
    }

    private static void AssertChangedExactly(double[] with, double[] without, int t, int c, HashSet<(int Row, int Pos)> expected)
    {
        for (int i = 0; i < with.Length / c; i++)
        {
            var key = (i / t, i % t);
            bool changed = Enumerable.Range(0, c).Any(k => with[i * c + k] != without[i * c + k]);
            Assert.True(changed == expected.Contains(key), $"row {key.Item1} position {key.Item2}: changed = {changed}");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PositionsFollowTheUnpaddedPromptUnderPadding(bool leftPadding)
    {
        using var peft = Llama(new LoreftConfig { Layers = [0], Positions = "f1+l1", LowRankDimension = 2 });
        ICausalLanguageModel lm = peft;
        // row 0: 4 real tokens and 2 pads, row 1: 6 real tokens
        long[] ids = [5, 9, 13, 17, 21, 25, 3, 7, 11, 15, 19, 23];
        long[] mask = leftPadding ? [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] : [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1];
        using var x = Tensor.FromArray(ids, 2, 6);
        using var m = Tensor.FromArray(mask, 2, 6);
        var (with, without) = Layer0(peft, () => lm.Forward(x, m));
        var expected = leftPadding ? new HashSet<(int, int)> { (0, 2), (0, 5), (1, 0), (1, 5) } : [(0, 0), (0, 3), (1, 0), (1, 5)];
        AssertChangedExactly(with, without, 6, 16, expected);

        // in a loss, labels of -100 mark the prompt: row 0's prompt is its first 2 real tokens, row 1's the first 4
        long[] labels = leftPadding ? [-100, -100, -100, -100, 21, 25, -100, -100, -100, -100, 19, 23] : [-100, -100, 13, 17, -100, -100, -100, -100, -100, -100, 19, 23];
        using var lab = Tensor.FromArray(labels, 2, 6);
        (with, without) = Layer0(peft, () => lm.Loss(x, lab, m));
        expected = leftPadding ? [(0, 2), (0, 3), (1, 0), (1, 3)] : [(0, 0), (0, 1), (1, 0), (1, 3)];
        AssertChangedExactly(with, without, 6, 16, expected);
    }

    [Fact]
    public void GenerationWithTheCacheMatchesTheUncachedPromptAndLeavesNewTokensAlone()
    {
        using var peft = Llama(new LoreftConfig { Layers = [0, 1], Positions = "f2+l2", LowRankDimension = 4 });
        peft.Eval();
        ICausalLanguageModel lm = peft;
        using var _ = GradMode.Disable();
        using var prompt = TestLlama.Input();                            // (3, 5)
        using var uncached = lm.Forward(prompt);
        using var cache = lm.CreateCache(3, 8);
        using var cached = lm.Forward(prompt, null, cache);
        TestData.AssertClose(uncached.ToDoubleArray(), cached.ToDoubleArray(), 1e-6, 1e-6, "prompt logits");
        using (peft.DisableAdapter()) using (var baseLogits = lm.Forward(prompt))
            AssertDiffers(baseLogits.ToDoubleArray(), uncached.ToDoubleArray(), 1e-4, "the adapter changes the prompt");

        // decoding steps: the hook sees cached positions and returns the hidden state untouched
        var host = ((LlamaModel)peft.Model).Transformer;
        var before = new List<double[]>();
        var after = new List<double[]>();
        host.LayerOutputHooks.Insert(0, (l, h, past) => { if (past > 0) before.Add(h.ToDoubleArray()); return null; });
        host.LayerOutputHooks.Add((l, h, past) => { if (past > 0) after.Add(h.ToDoubleArray()); return null; });
        // two new tokens at once (a one-token input would be too short for any position anyway)
        using var next = Tensor.FromArray(new long[] { 1, 2, 3, 4, 5, 6 }, 3, 2);
        using var step = lm.Forward(next, null, cache);
        Assert.Equal(2, after.Count);
        for (int i = 0; i < after.Count; i++) Assert.Equal(before[i], after[i]);
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void GradientCheckpointingGivesTheSameGradients(string arch)
    {
        double[][] Grads(bool checkpoint)
        {
            Module model = arch == "llama" ? TestLlama.Create(new Generator(42)) : TestGpt2.Create(new Generator(42));
            if (model is LlamaModel llama) llama.GradientCheckpointing = checkpoint;
            if (model is Gpt2Model gpt2) gpt2.GradientCheckpointing = checkpoint;
            using var peft = PeftModel.Create(model, new LoreftConfig { Layers = [0, 1], Positions = "f1+l2", LowRankDimension = 3 }, "default", new Generator(1));
            peft.Train();
            using var ids = arch == "llama" ? TestLlama.Input() : TestGpt2.Input();
            using var loss = ((ICausalLanguageModel)peft).Loss(ids, ids);
            loss.Backward();
            return peft.Parameters().Where(p => p.RequiresGrad).Select(p => p.Data.Grad!.ToDoubleArray()).ToArray();
        }
        var plain = Grads(false);
        var checkpointed = Grads(true);
        Assert.Equal(plain.Length, checkpointed.Length);
        for (int i = 0; i < plain.Length; i++) TestData.AssertClose(plain[i], checkpointed[i], 1e-6, 1e-5, $"grad {i}");
    }

    [Fact]
    public void MergeIsRefusedWithAClearError()
    {
        using var peft = Llama(new LoreftConfig { Layers = [1] });
        var e = Assert.Throws<NotSupportedException>(() => peft.MergeAndUnload());
        Assert.Contains("Merging is not supported for LOREFT", e.Message);
        Assert.Throws<ArgumentException>(() => Llama(new LoreftConfig { Layers = [2] }));
        Assert.Throws<ArgumentException>(() => Llama(new LoreftConfig { Positions = "middle" }));
    }

    [Fact]
    public void FileLayoutAndTrainingOnFromALoadedAdapter()
    {
        var dir = TempDir();
        try
        {
            using var ids = TestLlama.Input();
            double[] expected;
            using (var peft = Llama(new LoreftConfig { Layers = [1], Positions = "f1+l1", LowRankDimension = 3 }))
            {
                using var opt = new AdamW(peft.Parameters().Where(p => p.RequiresGrad), lr: 0.05);
                TrainLanguageModel(peft, opt, ids, steps: 3);
                expected = Run(peft, ids);
                peft.SavePretrained(dir);
            }
            var json = File.ReadAllText(Path.Combine(dir, "adapter_config.json"));
            Assert.Contains("\"peft_type\": \"LOREFT\"", json);
            Assert.Contains("\"positions\": \"f1+l1\"", json);
            Assert.Contains("\"low_rank_dimension\": 3", json);
            using (var f = PeftEngine.IO.Safetensors.SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors")))
            {
                string p = "base_model.model.model.layers.1.reft.";
                Assert.Equal(new[] { "first.", "last." }.SelectMany(g => new[] { "learned_source.bias", "learned_source.weight", "rotate_layer.weight" }.Select(k => p + g + k)).Order(),
                    f.Keys.Order());
                Assert.Equal([16, 3], f.Info(p + "first.rotate_layer.weight").Shape);
                Assert.Equal([3, 16], f.Info(p + "last.learned_source.weight").Shape);
                using var u = f.Load(p + "first.rotate_layer.weight", DType.F64);
                AssertOrthonormalColumns(u, 1e-5, "saved R");
            }
            using var loaded = PeftModel.FromPretrained(TestLlama.Create(new Generator(42)), dir, "default", isTrainable: true);
            TestData.AssertClose(expected, Run(loaded, ids), 0, 0, "reloaded");
            using var opt2 = new AdamW(loaded.Parameters().Where(p => p.RequiresGrad), lr: 0.05);
            TrainLanguageModel(loaded, opt2, ids, steps: 4);
            foreach (var r in Rotations(loaded))
            {
                using var u = r.Weight();
                AssertOrthonormalColumns(u, 1e-5, "R trained on after loading");
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void BertEncoderLayersTakeInterventionsToo()
    {
        var config = (PeftEngine.IO.BertConfig)PeftEngine.IO.HfConfig.Parse("""
            {"model_type": "bert", "vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 12, "max_position_embeddings": 16}
            """);
        using var reference = new BertForSequenceClassification(config, numLabels: 2, generator: new Generator(42));
        using var ids = Tensor.FromArray(new long[] { 1, 5, 7, 9, 2, 3, 4, 6, 8, 10 }, 2, 5);
        var baseOut = Run(reference, ids);
        var dir = TempDir();
        try
        {
            double[] adapted;
            using (var peft = PeftModel.Create(new BertForSequenceClassification(config, numLabels: 2, generator: new Generator(42)),
                       new LoreftConfig { Layers = [1], Positions = "f1+l1", LowRankDimension = 2 }, "default", new Generator(7)))
            {
                var encoder = peft.Model.GetSubmodule<BertEncoder>("bert.encoder");
                double[]? seen = null;
                encoder.LayerOutputHooks.Add((l, h, past) => { if (l == 1) seen = h.ToDoubleArray(); return null; });
                adapted = Run(peft, ids);
                var with = seen!;
                using (peft.DisableAdapter()) TestData.AssertClose(baseOut, Run(peft, ids), 0, 0, "disabled");
                AssertChangedExactly(with, seen!, 5, 8, [(0, 0), (0, 4), (1, 0), (1, 4)]);
                AssertDiffers(baseOut, adapted, 1e-6, "adapted");
                peft.SavePretrained(dir);
            }
            using var f = PeftEngine.IO.Safetensors.SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors"));
            Assert.Contains("base_model.model.bert.encoder.layer.1.reft.first.rotate_layer.weight", f.Keys);
            using var loaded = PeftModel.FromPretrained(new BertForSequenceClassification(config, numLabels: 2, generator: new Generator(42)), dir);
            TestData.AssertClose(adapted, Run(loaded, ids), 0, 0, "reloaded");
        }
        finally { Directory.Delete(dir, true); }
    }
}
