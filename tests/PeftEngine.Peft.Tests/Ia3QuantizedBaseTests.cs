using PeftEngine.Models;
using PeftEngine.Peft;
using PeftEngine.Peft.Ia3;
using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>(IA)³ over a model whose Linear layers were quantized to NF4: the vectors wrap the 4-bit layers, train,
/// and merge into them up to requantization (the merged weight is quantized again).</summary>
public class Ia3QuantizedBaseTests
{
    [Fact]
    public void VectorsOnAFourBitBaseScaleItAndMergeUpToRequantization()
    {
        var model = TestLlama.Create(new Generator(21));
        ModelQuantizer.Quantize(model, BitsAndBytesConfig.QLoRA);
        using var ids = TestLlama.Input();
        double[] baseOut = Harness.Run(model, ids);
        using var peft = PeftModel.ForCausalLm(model, new Ia3Config { InitIa3Weights = false }, "default", new Generator(22));
        var layers = peft.NamedModules().Select(nm => nm.Module).OfType<Ia3Layer>().ToList();
        Assert.Equal(2 * 3, layers.Count);                                   // k_proj, v_proj, down_proj per layer
        Assert.All(layers, l => Assert.IsType<Linear4Bit>(l.BaseLayer));
        double[] adapted = Harness.Run(peft, ids);
        double update = Harness.MaxAbsDiff(baseOut, adapted);
        Assert.True(update > 1e-2, $"random vectors should move the output, moved {update:E2}");

        peft.MergeAdapter();
        double[] merged = Harness.Run(peft, ids);
        Assert.True(Harness.MaxAbsDiff(adapted, merged) < update,
            $"merged output is {Harness.MaxAbsDiff(adapted, merged):E2} from the adapted one, the base {update:E2}");
        Assert.All(layers, l => Assert.Equal(["default"], l.MergedAdapters));
    }
}
