using PeftEngine.IO;
using PeftEngine.Models;
using PeftEngine.Nn.Optim;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;
using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>QLoRA on the GPU device: a tiny LLaMA quantized to NF4 with double quantization, LoRA on every Linear,
/// moved with <c>PeftModel.To</c> (which moves the packed weights too); one training step gives the CPU's loss,
/// LoRA gradients and updated LoRA weights.</summary>
public class QLoraStepTests
{
    private static PeftModel QuantizedLlamaWithLora()
    {
        var model = new LlamaModel((RopeDecoderConfig)HfConfig.Parse(
            "{\"model_type\":\"llama\",\"vocab_size\":40,\"hidden_size\":16,\"intermediate_size\":24,\"num_hidden_layers\":2,"
            + "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"max_position_embeddings\":32}"), generator: new Generator(7));
        var report = ModelQuantizer.Quantize(model, new BitsAndBytesConfig { Bnb4BitQuantType = "nf4", Bnb4BitUseDoubleQuant = true });
        Assert.Equal(14, report.Layers);
        // random B as well as A, so that both LoRA matrices get a gradient in the first step
        var config = new LoraConfig { TargetModules = TargetModules.AllLinear, R = 4, LoraAlpha = 8, InitLoraWeights = LoraInit.Random };
        return PeftModel.ForCausalLm(model, config, "default", new Generator(12));
    }

    /// <summary>Loss, then each LoRA gradient, then each LoRA weight after one AdamW step, read back to the host.</summary>
    private static List<double[]> Step(Device device)
    {
        using var peft = QuantizedLlamaWithLora();
        peft.To(device);
        Assert.All(peft.NamedModules().Select(nm => nm.Module).OfType<Linear4Bit>(), l => Assert.Equal(device, l.Weight4Bit.Device));
        var ids = new long[2 * 7];   // 14 rows: the tiled 4-bit kernel forward and backward
        for (int i = 0; i < ids.Length; i++) ids[i] = (i * 13 + 3) % 40;
        using var host = Tensor.FromArray(ids, 2, 7);
        using var x = host.To(device);
        var trainable = peft.Parameters().Where(p => p.RequiresGrad).ToList();
        Assert.Equal(28, trainable.Count);
        var results = new List<double[]>();
        ICausalLanguageModel lm = peft;
        using (var loss = lm.Loss(x, x))
        {
            loss.Backward();
            results.Add(loss.ToDoubleArray());
        }
        foreach (var p in trainable) results.Add(p.Grad!.ToDoubleArray());
        using var opt = new AdamW(trainable, lr: 1e-2);
        opt.Step();
        foreach (var p in trainable) results.Add(p.Data.ToDoubleArray());
        return results;
    }

    [Fact]
    public void OneStepMatchesTheCpu()
    {
        var cpu = Step(Device.Cpu);
        var gpu = Step(GpuParity.Device);
        Assert.Equal(cpu.Count, gpu.Count);
        // float32 sums in another order: loss and gradients agree to about 1e-5 relative
        TestData.AssertClose(cpu[0], gpu[0], 1e-5, 1e-5, "loss");
        for (int i = 1; i < cpu.Count; i++) TestData.AssertClose(cpu[i], gpu[i], 2e-5, 1e-3, $"tensor {i}");
    }
}
