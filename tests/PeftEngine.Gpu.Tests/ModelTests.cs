using PeftEngine.IO;
using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;

namespace PeftEngine.Tests;

/// <summary>A whole model on the GPU device: the same weights give the same loss, gradients and AdamW update as on the CPU.</summary>
public class ModelTests
{
    private static Gpt2Model TinyGpt2() => new((Gpt2Config)HfConfig.Parse(
        "{\"model_type\":\"gpt2\",\"vocab_size\":40,\"n_positions\":16,\"n_embd\":16,\"n_layer\":2,\"n_head\":2,"
        + "\"attn_pdrop\":0,\"resid_pdrop\":0,\"embd_pdrop\":0}"), generator: new Generator(7));

    private static LlamaModel TinyLlama() => new((RopeDecoderConfig)HfConfig.Parse(
        "{\"model_type\":\"llama\",\"vocab_size\":40,\"hidden_size\":16,\"intermediate_size\":24,\"num_hidden_layers\":2,"
        + "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"max_position_embeddings\":32}"), generator: new Generator(7));

    private static Tensor Ids()
    {
        var ids = new long[2 * 6];
        for (int i = 0; i < ids.Length; i++) ids[i] = (i * 11 + 5) % 40;
        return Tensor.FromArray(ids, 2, 6);
    }

    /// <summary>Loss, every gradient and every parameter after one AdamW step, in parameter order, read back to the host.</summary>
    private static List<double[]> TrainStep(Module model, Func<Tensor, Tensor, Tensor> loss, Device device)
    {
        model.To(device);
        using var ids = Ids();
        using var x = ids.To(device);
        var results = new List<double[]>();
        using (var l = loss(x, x))
        {
            Assert.Equal(device, l.Device);
            l.Backward();
            results.Add(l.ToDoubleArray());
        }
        var ps = model.Parameters().Distinct().ToList();
        foreach (var p in ps) results.Add(p.Grad!.ToDoubleArray());
        var opt = new AdamW(ps, lr: 1e-2);
        opt.Step();
        foreach (var p in ps) results.Add(p.Data.ToDoubleArray());
        return results;
    }

    private static void AssertSame(List<double[]> cpu, List<double[]> gpu)
    {
        Assert.Equal(cpu.Count, gpu.Count);
        for (int i = 0; i < cpu.Count; i++) TestData.AssertClose(cpu[i], gpu[i], 2e-5, 1e-3, $"tensor {i}");
    }

    [Fact]
    public void Gpt2TrainingStepMatchesCpu()
    {
        var onCpu = TinyGpt2();
        var cpu = TrainStep(onCpu, (x, y) => onCpu.Loss(x, y), Device.Cpu);
        var onGpu = TinyGpt2();
        var gpu = TrainStep(onGpu, (x, y) => onGpu.Loss(x, y), GpuParity.Device);
        AssertSame(cpu, gpu);
    }

    [Fact]
    public void LlamaTrainingStepMatchesCpu()
    {
        // rotary tables, RMSNorm, grouped-query attention and the gated MLP on the device
        var onCpu = TinyLlama();
        var cpu = TrainStep(onCpu, (x, y) => onCpu.Loss(x, y), Device.Cpu);
        var onGpu = TinyLlama();
        var gpu = TrainStep(onGpu, (x, y) => onGpu.Loss(x, y), GpuParity.Device);
        AssertSame(cpu, gpu);
    }
}
