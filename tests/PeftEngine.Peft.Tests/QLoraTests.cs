using PeftEngine.Models;
using PeftEngine.Nn.Optim;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;
using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>QLoRA: LoRA adapters over a model whose Linear layers were quantized to NF4 with double quantization.</summary>
public class QLoraTests
{
    private static LlamaModel QuantizedLlama()
    {
        var model = TestLlama.Create(new Generator(11));
        var report = ModelQuantizer.Quantize(model, BitsAndBytesConfig.QLoRA);
        Assert.Equal(2 * 7, report.Layers);                 // q, k, v, o, gate, up, down per layer; lm_head stays
        return model;
    }

    private static Dictionary<string, byte[]> PackedWeights(PeftModel peft) =>
        peft.NamedModules().Where(nm => nm.Module is Linear4Bit)
            .ToDictionary(nm => nm.Name, nm => ((Linear4Bit)nm.Module).Weight4Bit.Packed.ToArray<byte>());

    private static LoraConfig Config => new() { TargetModules = TargetModules.AllLinear, R = 4, LoraAlpha = 8 };

    [Fact]
    public void AdaptersOnAFourBitBaseStartAtTheBaseTrainAndLeaveTheBaseUntouched()
    {
        var model = QuantizedLlama();
        using var ids = TestLlama.Input();
        double[] baseOut = Harness.Run(model, ids);
        using var peft = PeftModel.ForCausalLm(model, Config, "default", new Generator(12));
        var wrapped = peft.NamedModules().Select(nm => nm.Module).OfType<LoraLinear>().ToList();
        Assert.Equal(14, wrapped.Count);
        Assert.All(wrapped, l => Assert.True(l.IsQuantizedBase));
        TestData.AssertClose(baseOut, Harness.Run(peft, ids), 1e-6, 1e-6, "identity at init");

        var packedBefore = PackedWeights(peft);
        using var opt = new AdamW(peft.Parameters().Where(p => p.RequiresGrad), 1e-2);
        var (first, last) = Harness.TrainLanguageModel(peft, opt, ids, steps: 20);
        Assert.True(last < first - 0.1, $"loss {first:F4} -> {last:F4}");
        foreach (var (name, bytes) in PackedWeights(peft)) Assert.Equal(packedBefore[name], bytes);
        Assert.All(peft.NamedParameters().Where(np => np.Parameter.RequiresGrad), np =>
        {
            Assert.Contains(".lora_", np.Name);
            Assert.Equal(DType.F32, np.Parameter.DType);
        });
    }

    [Fact]
    public void MergingIntoTheFourBitBaseKeepsTheUpdateUpToRequantization()
    {
        var model = QuantizedLlama();
        using var ids = TestLlama.Input();
        double[] baseOut = Harness.Run(model, ids);
        using var peft = PeftModel.ForCausalLm(model, Config with { InitLoraWeights = LoraInit.Random }, "default", new Generator(13));
        double[] adapted = Harness.Run(peft, ids);
        double update = Harness.MaxAbsDiff(baseOut, adapted);
        Assert.True(update > 1e-2, $"the random adapter should move the output, moved {update:E2}");

        // The exact merged weights, W_q + ΔW, per layer, before merging.
        var layers = QuantizedMerge.LoraLinears(peft);
        var exact = QuantizedMerge.ExactMergedWeights(layers);

        peft.MergeAdapter();
        // Each merged weight is W_q + ΔW rounded to NF4 again: within half the widest NF4 gap (0.1519) of its block's
        // absmax of the exact sum.
        foreach (var (name, layer) in layers)
        {
            var m = QuantizedMerge.BaseWeight(layer);
            var e = exact[name];
            for (int b = 0; b * 64 < e.Length; b++)
            {
                var block = e.Skip(b * 64).Take(64).ToArray();
                float absmax = block.Max(MathF.Abs);
                for (int i = 0; i < block.Length; i++)
                    Assert.True(MathF.Abs(m[b * 64 + i] - block[i]) <= 0.1520f * absmax * 1.01f + 1e-6f, $"{name}[{b * 64 + i}]");
            }
        }
        double[] merged = Harness.Run(peft, ids);
        Assert.True(Harness.MaxAbsDiff(adapted, merged) < update,
            $"merged output is {Harness.MaxAbsDiff(adapted, merged):E2} from the adapted one, the base {update:E2}");

        peft.UnmergeAdapter();
        double[] unmerged = Harness.Run(peft, ids);
        Assert.True(Harness.MaxAbsDiff(baseOut, unmerged) < update,
            $"unmerged output is {Harness.MaxAbsDiff(baseOut, unmerged):E2} from the base, the adapted one {update:E2}");
    }

    [Fact]
    public void SavedAdapterReloadsOntoAFreshlyQuantizedBase()
    {
        var model = QuantizedLlama();
        using var ids = TestLlama.Input();
        using var peft = PeftModel.ForCausalLm(model, Config with { InitLoraWeights = LoraInit.Random }, "default", new Generator(14));
        double[] expected = Harness.Run(peft, ids);
        string dir = Harness.TempDir();
        try
        {
            peft.SavePretrained(dir);
            using var reloaded = PeftModel.FromPretrained(QuantizedLlama(), dir);
            TestData.AssertClose(expected, Harness.Run(reloaded, ids), 0, 0, "reloaded QLoRA output");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
