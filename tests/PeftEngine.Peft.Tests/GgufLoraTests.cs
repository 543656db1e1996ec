using PeftEngine.IO;
using PeftEngine.IO.Gguf;
using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;
using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>LoRA over packed GGUF base layers (<see cref="GgufLinear"/>): trains with the base bytes untouched, and
/// merges into Q8_0 / Q4_0 blocks up to the re-quantization.</summary>
public class GgufLoraTests
{
    private static readonly RopeDecoderConfig Config = (RopeDecoderConfig)HfConfig.Parse(
        "{\"model_type\":\"llama\",\"vocab_size\":40,\"hidden_size\":64,\"intermediate_size\":96,\"num_hidden_layers\":2,"
        + "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"max_position_embeddings\":32,\"rms_norm_eps\":1e-6,"
        + "\"hidden_act\":\"silu\",\"tie_word_embeddings\":false}");

    /// <summary>A small LLaMA whose projections (not lm_head) are ggml blocks of <paramref name="type"/>.</summary>
    private static LlamaModel PackedLlama(GgmlType type)
    {
        var model = new LlamaModel(Config, generator: new Generator(21));
        using (GradMode.Disable())
            foreach (var (name, p) in model.NamedParameters())
                if (!name.Contains("norm")) Ops.MulInPlace(p, 10);
        foreach (var name in model.NamedModules().Where(m => m.Module is Linear && m.Name.StartsWith("model.")).Select(m => m.Name).ToList())
            model.ReplaceSubmodule(name, GgufLinear.FromLinear(model.GetSubmodule<Linear>(name), type)).Dispose();
        return model;
    }

    private static Tensor Input()
    {
        var ids = new long[3 * 5];
        for (int i = 0; i < ids.Length; i++) ids[i] = (i * 11 + 5) % 40;
        return Tensor.FromArray(ids, 3, 5);
    }

    private static LoraConfig Lora => new() { TargetModules = TargetModules.AllLinear, R = 4, LoraAlpha = 8 };

    private static Dictionary<string, byte[]> Blocks(Module m) => m.NamedModules().Where(nm => nm.Module is GgufLinear)
        .ToDictionary(nm => nm.Name, nm => { var w = ((GgufLinear)nm.Module).Weight; return Enumerable.Range(0, w.Rows).SelectMany(r => w.RowBlocks(r).ToArray()).ToArray(); });

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    public void LoraOnPackedBaseStartsAtTheBaseAndTrainsWithTheBlocksUntouched(GgmlType type)
    {
        var model = PackedLlama(type);
        using var ids = Input();
        double[] baseOut = Harness.Run(model, ids);
        using var peft = PeftModel.ForCausalLm(model, Lora, "default", new Generator(22));
        var wrapped = peft.NamedModules().Select(nm => nm.Module).OfType<LoraLinear>().ToList();
        Assert.Equal(14, wrapped.Count);
        Assert.All(wrapped, l => Assert.IsType<GgufLinear>(l.BaseLayer));
        Assert.All(wrapped, l => Assert.True(l.IsQuantizedBase));
        TestData.AssertClose(baseOut, Harness.Run(peft, ids), 1e-6, 1e-6, "identity at init");

        var before = Blocks(peft);
        using var opt = new AdamW(peft.Parameters().Where(p => p.RequiresGrad), 1e-2);
        var (first, last) = Harness.TrainLanguageModel(peft, opt, ids, steps: 20);
        Assert.True(last < first - 0.1, $"loss {first:F4} -> {last:F4}");
        foreach (var (name, bytes) in Blocks(peft)) Assert.Equal(before[name], bytes);
        Assert.All(peft.NamedParameters().Where(np => np.Parameter.RequiresGrad), np => Assert.Contains(".lora_", np.Name));
    }

    [Fact]
    public void MergingIntoQ8_0BlocksKeepsTheUpdateUpToHalfAStep()
    {
        var model = PackedLlama(GgmlType.Q8_0);
        using var ids = Input();
        double[] baseOut = Harness.Run(model, ids);
        using var peft = PeftModel.ForCausalLm(model, Lora with { InitLoraWeights = LoraInit.Random }, "default", new Generator(23));
        double[] adapted = Harness.Run(peft, ids);
        double update = Harness.MaxAbsDiff(baseOut, adapted);
        Assert.True(update > 1e-2, $"the random adapter should move the output, moved {update:E2}");
        var layers = QuantizedMerge.LoraLinears(peft);
        var exact = QuantizedMerge.ExactMergedWeights(layers);
        peft.MergeAdapter();
        // Q8_0 rounds each block of 32 to steps of d = absmax / 127 (stored in float16): every merged weight lies within
        // half a step (plus the float16 rounding of d, at most 2^-11 relative, times 127) of the exact sum
        foreach (var (name, layer) in layers)
        {
            var m = QuantizedMerge.BaseWeight(layer);
            var e = exact[name];
            for (int b = 0; b * 32 < e.Length; b++)
            {
                float d = e.Skip(b * 32).Take(32).Max(MathF.Abs) / 127f;
                for (int i = b * 32; i < b * 32 + 32; i++)
                    Assert.True(MathF.Abs(m[i] - e[i]) <= d * (0.5f + 127f / 2048f) + 1e-7f, $"{name}[{i}]: {m[i]} vs {e[i]}");
            }
        }
        double[] merged = Harness.Run(peft, ids);
        Assert.True(Harness.MaxAbsDiff(adapted, merged) < 0.1 * update,
            $"merged output is {Harness.MaxAbsDiff(adapted, merged):E2} from the adapted one (update {update:E2})");
    }
}
