using System.Diagnostics;
using PeftEngine;
using PeftEngine.Gpu;
using PeftEngine.IO;
using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;

// Throughput of the GPU backend on one device: GEMM TFLOP/s (our kernel and cuBLAS), 4-bit (NF4) matvec GB/s and
// fused 4-bit GEMM TFLOP/s, fused attention forward and forward + backward, a GPT-2 small training step's tokens/s. About a minute on an H100/H200-class GPU.
// Usage: dotnet run -c Release --project benchmarks/PeftEngine.GpuCheck -- [cuda:0|opencl:0|ilgpucpu:0] [--probe]
// --probe only opens the device (one line, exit code 2 when it cannot). On ilgpucpu the sizes are tiny: the
// numbers only show that the program runs.
var name = args.FirstOrDefault(a => !a.StartsWith("--")) ?? "cuda:0";
bool probe = args.Contains("--probe");
var parts = name.Split(':');
DeviceKind? kind = parts[0] switch { "cuda" => DeviceKind.Cuda, "opencl" => DeviceKind.OpenCL, "ilgpucpu" => DeviceKind.IlgpuCpu, _ => null };
if (kind is null || parts.Length > 2 || (parts.Length == 2 && !int.TryParse(parts[1], out _)))
{
    Console.Error.WriteLine($"gpu-check: unknown device '{name}'; expected cuda:N, opencl:N or ilgpucpu:0");
    return 2;
}
var device = new Device(kind.Value, parts.Length > 1 ? int.Parse(parts[1]) : 0);
GpuBackend backend;
try
{
    backend = GpuBackend.Open(device);
}
catch (Exception e)
{
    Console.Error.WriteLine($"gpu-check: cannot open {device}: {e.GetBaseException().Message.ReplaceLineEndings(" ")}");
    return 2;
}
Console.WriteLine($"gpu-check: {device}: {backend.Accelerator.Name}, {backend.Accelerator.MemorySize / (1 << 20)} MiB");
if (probe) return 0;

bool tiny = kind == DeviceKind.IlgpuCpu;
bool cuBlas = backend.CuBlasAvailable;
Console.WriteLine(cuBlas ? "cuBLAS: available" : $"cuBLAS: not used ({backend.CuBlasError ?? "not a CUDA device"})");

double Time(Action run, int reps)
{
    run();                       // compile and warm up
    backend.Synchronize();
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < reps; i++) run();
    backend.Synchronize();
    return sw.Elapsed.TotalSeconds / reps;
}

Tensor Randn(int seed, params int[] shape) => Tensor.Randn(new Shape(shape), new Generator((ulong)seed), DType.F32, device);

var libraries = cuBlas ? new[] { GemmLibrary.Own, GemmLibrary.CuBlas } : new[] { GemmLibrary.Own };
foreach (int n in tiny ? new[] { 64 } : new[] { 1024, 2048, 4096 })
{
    using var a = Randn(1, 1, n, n);
    using var b = Randn(2, 1, n, n);
    using var c = Tensor.Empty(new Shape(1, n, n), DType.F32, device);
    foreach (var lib in libraries)
    {
        backend.GemmLibrary = lib;
        double s = Time(() => backend.Gemm(a, b, c, false, true), tiny ? 1 : 5);
        Console.WriteLine($"gemm f32 {n}^3 (x·wᵀ) {lib,-6}: {2.0 * n * n * n / s / 1e12:F3} TFLOP/s ({s * 1e3:F2} ms)");
    }
}
if (cuBlas)
{
    // cuBLAS against our kernel on a batched, transposed, biased, odd-sized product: the mapping checked on the device.
    using var a = Randn(3, 3, 131, 77);     // (batch, k, m), used transposed
    using var b = Randn(4, 1, 131, 45);     // (1, k, n), broadcast over the batch
    using var bias = Randn(5, 45);
    using var bb = Ops.Expand(b, 3, 131, 45);
    double[] Product(GemmLibrary lib)
    {
        backend.GemmLibrary = lib;
        using var c = Tensor.Full(new Shape(3, 77, 45), 1.0, DType.F32, device);
        backend.Gemm(a, bb, c, true, false, alpha: 0.5, beta: 2, bias: bias);
        return c.ToDoubleArray();
    }
    var own = Product(GemmLibrary.Own);
    var blas = Product(GemmLibrary.CuBlas);
    double worst = own.Zip(blas, (x, y) => Math.Abs(x - y) / (1 + Math.Abs(x))).Max();
    Console.WriteLine($"cuBLAS vs own kernel (batched, aᵀ, bias, beta 2): max relative difference {worst:E2} {(worst < 1e-4 ? "ok" : "MISMATCH")}");
}
backend.GemmLibrary = cuBlas ? GemmLibrary.CuBlas : GemmLibrary.Own;

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
    using var q = Randn(6, bsz, heads, t, d);
    using var k = Randn(7, bsz, heads, t, d);
    using var v = Randn(8, bsz, heads, t, d);
    using var g = Randn(9, bsz, heads, t, d);
    using var o = Tensor.Empty(new Shape(bsz, heads, t, d), DType.F32, device);
    using var lse = Tensor.Empty(new Shape(bsz, heads, t), DType.F32, device);
    using var dq = Tensor.Empty(q.Shape, DType.F32, device);
    using var dk = Tensor.Empty(k.Shape, DType.F32, device);
    using var dv = Tensor.Empty(v.Shape, DType.F32, device);
    double fwd = Time(() => backend.AttentionForward(q, k, v, null, true, 0.125, o, lse), tiny ? 1 : 5);
    double both = Time(() =>
    {
        backend.AttentionForward(q, k, v, null, true, 0.125, o, lse);
        backend.AttentionBackward(q, k, v, null, true, 0.125, o, g, lse, dq, dk, dv);
    }, tiny ? 1 : 3);
    double flops = 4.0 * bsz * heads * t * t * d / 2;   // two (T × S × D) products, half of them under the causal mask
    Console.WriteLine($"attention causal B={bsz} H={heads} T={t} D={d}: forward {fwd * 1e3:F2} ms ({flops / fwd / 1e12:F2} TFLOP/s), " +
                      $"forward+backward {both * 1e3:F2} ms ({3.5 * flops / both / 1e12:F2} TFLOP/s)");
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
    Console.WriteLine($"gpt2 {layers}x{width} training step (AdamW, gemm {backend.GemmLibrary}), batch {batch} x {seq}: {batch * seq / s:F0} tokens/s ({s * 1e3:F1} ms)");
}
return 0;
