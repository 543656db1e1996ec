using PeftEngine.Nn;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Serialization;
using PeftEngine.Peft.Tuners;
using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>PiSSA and LoftQ: LoRA factors taken from the weight they adapt.</summary>
public class WeightInitTests
{
    private sealed class OneLinear : Module
    {
        public OneLinear(int seed) => RegisterModule("proj", new Linear(48, 32, bias: true, generator: new Generator((ulong)seed)));
        public override Tensor Forward(Tensor x) => GetChild("proj").Forward(x);   // by name, so a wrapper takes effect
    }

    private static double[] Weight(Module m) => m.NamedParameters().First(np => np.Name.EndsWith("proj.base_layer.weight") || np.Name == "proj.weight").Parameter.Data.ToDoubleArray();

    private static double[] SingularValues(double[] w, int rows, int cols)
    {
        using var t = Tensor.FromArray(w, rows, cols);
        using var s = Linalg.SvdVals(t);
        return s.ToDoubleArray();
    }

    private static double Frobenius(IEnumerable<double> values) => Math.Sqrt(values.Sum(v => v * v));

    [Theory]
    [InlineData(null)]
    [InlineData(6)]
    public void PissaMovesThePrincipalPartIntoTheAdapterAndKeepsTheOutput(int? niter)
    {
        var model = new OneLinear(1);
        double[] w = Weight(model);
        using var x = TestData.Uniform(2, new Shape(5, 48), DType.F32);
        double[] before = Harness.Run(model, x);
        using var peft = PeftModel.Create(model, new LoraConfig
        {
            TargetModules = TargetModules.Of("proj"), R = 4, LoraAlpha = 16, InitLoraWeights = LoraInit.Pissa, PissaNiter = niter,
        }, "default", new Generator(3));
        // The output is unchanged: W_res + s·B·A = W.
        TestData.AssertClose(before, Harness.Run(peft, x), 1e-5, 1e-4, "output at init");
        // The residual keeps exactly the singular values past the r-th.
        double[] all = SingularValues(w, 32, 48), residual = SingularValues(Weight(peft), 32, 48);
        double tol = niter is null ? 1e-5 : 2e-2;
        TestData.AssertClose(all.Skip(4).ToArray(), residual.Take(28).ToArray(), tol, tol, "residual singular values");
        Assert.All(residual.Skip(28), s => Assert.True(s < tol * all[0], $"residual has a direction of size {s}"));
    }

    [Fact]
    public void LoftqFitsTheQuantizationErrorWithTheScalingTakenIntoAccount()
    {
        double Error(LoftqConfig loftq, out double plain)
        {
            var model = new OneLinear(5);
            double[] w = Weight(model);
            using (var t = Tensor.FromArray(w.Select(v => (float)v).ToArray(), 32, 48))
            using (var q = Blockwise4Bit.Quantize(t, FourBitType.Nf4))
            using (var dq = Ops.Dequantize4Bit(q))
                plain = Frobenius(dq.ToDoubleArray().Zip(w, (a, b) => a - b));      // ||W − q(W)||, plain QLoRA
            using var peft = PeftModel.Create(model, new LoraConfig
            {
                TargetModules = TargetModules.Of("proj"), R = 8, LoraAlpha = 32, InitLoraWeights = LoraInit.Loftq, LoftqConfig = loftq,
            });
            var layer = (LoraLinear)peft.Model.GetSubmodule("proj");
            double[] baseWeight = Weight(peft);
            // The base is an NF4 weight already: quantizing it again gives it back exactly.
            using (var t = Tensor.FromArray(baseWeight.Select(v => (float)v).ToArray(), 32, 48))
            using (var q = Blockwise4Bit.Quantize(t, FourBitType.Nf4))
            using (var dq = Ops.Dequantize4Bit(q))
                Assert.Equal(baseWeight.Select(v => (float)v).ToArray(), dq.ToArray<float>());
            using var delta = layer.DeltaWeight("default");                           // s·B·A
            return Frobenius(baseWeight.Zip(delta.ToDoubleArray(), (q, d) => q + d).Zip(w, (a, b) => a - b));
        }
        double one = Error(new LoftqConfig(4, 1), out double plain);
        double five = Error(new LoftqConfig(4, 5), out _);
        Assert.True(one < 0.9 * plain, $"LoftQ (1 step) error {one:E3} should be well below plain NF4's {plain:E3}");
        Assert.True(five <= one * 1.001, $"5 steps ({five:E3}) should not be worse than 1 ({one:E3})");
    }

    [Theory]
    [InlineData("\"pissa\"", LoraInit.Pissa, null)]
    [InlineData("\"pissa_niter_4\"", LoraInit.Pissa, 4)]
    [InlineData("\"loftq\"", LoraInit.Loftq, null)]
    public void WeightInitsRoundTripThroughAdapterConfigJson(string value, LoraInit init, int? niter)
    {
        string json = $$"""{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["proj"], "init_lora_weights": {{value}}, "loftq_config": {{(init == LoraInit.Loftq ? "{\"loftq_bits\": 4, \"loftq_iter\": 3}" : "{}")}}}""";
        var config = (LoraConfig)AdapterConfigJson.Parse(json, "adapter_config.json");
        Assert.Equal(init, config.InitLoraWeights);
        Assert.Equal(niter, config.PissaNiter);
        if (init == LoraInit.Loftq) Assert.Equal(3, config.LoftqConfig.LoftqIter);
        string written = AdapterConfigJson.Write(config);
        Assert.Contains($"\"init_lora_weights\": {value}", written);
        var again = (LoraConfig)AdapterConfigJson.Parse(written, "written");
        Assert.Equal(config.InitLoraWeights, again.InitLoraWeights);
        Assert.Equal(config.PissaNiter, again.PissaNiter);
        Assert.Equal(config.LoftqConfig, again.LoftqConfig);
    }
}
