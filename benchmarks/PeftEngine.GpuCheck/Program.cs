using System.Diagnostics;
using PeftEngine;
using PeftEngine.Gpu;
using PeftEngine.IO;
using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;

// Throughput of the GPU backend on one device: GEMM TFLOP/s, 4-bit (NF4) matvec GB/s and fused GEMM TFLOP/s,
// fused attention, a GPT-2 training step's tokens/s.
// Usage: dotnet run -c Release --project benchmarks/PeftEngine.GpuCheck -- [cuda:0|opencl:0|ilgpucpu:0]
// On ilgpucpu the sizes are tiny: the numbers only show that the program runs.
var name = args.Length > 0 ? args[0] : "cuda:0";
var parts = name.Split(':');
var kind = parts[0] switch { "cuda" => DeviceKind.Cuda, "opencl" => DeviceKind.OpenCL, "ilgpucpu" => DeviceKind.IlgpuCpu, _ => throw new ArgumentException($"unknown device {name}") };
var device = new Device(kind, parts.Length > 1 ? int.Parse(parts[1]) : 0);
var backend = GpuBackend.Open(device);
bool tiny = kind == DeviceKind.IlgpuCpu;
Console.WriteLine($"device {device}: {backend.Accelerator.Name}, {backend.Accelerator.MemorySize / (1 << 20)} MiB");
Console.WriteLine("cuBLAS: not used yet (our tiled GEMM only)");

double Time(Action run, int reps)
{
    run();                       // compile and warm up
    backend.Synchronize();
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < reps; i++) run();
    backend.Synchronize();
    return sw.Elapsed.TotalSeconds / reps;
}

foreach (int n in tiny ? new[] { 64 } : new[] { 1024, 2048, 4096 })
{
    using var a = Tensor.Zeros(new Shape(1, n, n), DType.F32, device);
    using var b = Tensor.Zeros(new Shape(1, n, n), DType.F32, device);
    using var c = Tensor.Empty(new Shape(1, n, n), DType.F32, device);
    double s = Time(() => backend.Gemm(a, b, c, false, false), tiny ? 1 : 5);
    Console.WriteLine($"gemm f32 {n}^3: {2.0 * n * n * n / s / 1e12:F3} TFLOP/s ({s * 1e3:F2} ms)");
}

{
    // QLoRA's base layer: an NF4 weight with double-quantized scales, read straight from its 4-bit storage.
    int n = tiny ? 128 : 4096, m = tiny ? 16 : 2048;
    var rng = new Random(3);
    var values = new float[n * n];
    for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
    using var host = PeftEngine.Quant.Blockwise4Bit.Quantize(values, n, n, PeftEngine.Quant.FourBitType.Nf4, 64, doubleQuant: true);
    using var w = host.To(device);
    using var x1 = Tensor.Zeros(new Shape(1, n), DType.F32, device);
    using var y1 = Tensor.Empty(new Shape(1, n), DType.F32, device);
    double s = Time(() => backend.MatMul4Bit(x1, w, y1, transW: true), tiny ? 1 : 20);
    Console.WriteLine($"4-bit nf4 matvec {n}x{n} (batch 1): {w.ByteSize / s / 1e9:F1} GB/s of packed weight ({s * 1e3:F3} ms)");
    using var x = Tensor.Zeros(new Shape(m, n), DType.F32, device);
    using var y = Tensor.Empty(new Shape(m, n), DType.F32, device);
    foreach (bool transW in new[] { true, false })
    {
        s = Time(() => backend.MatMul4Bit(x, w, y, transW), tiny ? 1 : 3);
        Console.WriteLine($"4-bit nf4 fused gemm {m}x{n}x{n} ({(transW ? "forward, x·Wᵀ" : "input gradient, g·W")}): {2.0 * m * n * n / s / 1e12:F3} TFLOP/s ({s * 1e3:F2} ms)");
    }
}

{
    int bsz = tiny ? 1 : 4, heads = tiny ? 2 : 16, t = tiny ? 16 : 1024, d = 64;
    using var q = Tensor.Zeros(new Shape(bsz, heads, t, d), DType.F32, device);
    using var o = Tensor.Empty(new Shape(bsz, heads, t, d), DType.F32, device);
    using var lse = Tensor.Empty(new Shape(bsz, heads, t), DType.F32, device);
    double s = Time(() => backend.AttentionForward(q, q, q, null, true, 0.125, o, lse), tiny ? 1 : 3);
    Console.WriteLine($"attention forward causal B={bsz} H={heads} T={t} D={d}: {s * 1e3:F2} ms");
}

{
    int layers = tiny ? 2 : 12, width = tiny ? 16 : 768, heads = tiny ? 2 : 12, batch = tiny ? 2 : 8, seq = tiny ? 8 : 256;
    var config = (Gpt2Config)HfConfig.Parse(
        $"{{\"model_type\":\"gpt2\",\"vocab_size\":{(tiny ? 40 : 50257)},\"n_positions\":{seq},\"n_embd\":{width},\"n_layer\":{layers},\"n_head\":{heads},"
        + "\"attn_pdrop\":0,\"resid_pdrop\":0,\"embd_pdrop\":0}");
    var model = new Gpt2Model(config, generator: new Generator(1));
    model.To(device);
    var opt = new AdamW(model.Parameters().Distinct().ToList(), lr: 1e-4);
    var ids = new long[batch * seq];
    for (int i = 0; i < ids.Length; i++) ids[i] = i * 31 % config.VocabSize;
    using var host = Tensor.FromArray(ids, batch, seq);
    using var x = host.To(device);
    double s = Time(() =>
    {
        using var loss = model.Loss(x, x);
        loss.Backward();
        opt.Step();
        model.ZeroGrad();
    }, tiny ? 1 : 3);
    Console.WriteLine($"gpt2 {layers}x{width} training step, batch {batch} x {seq}: {batch * seq / s:F0} tokens/s ({s * 1e3:F1} ms)");
}
