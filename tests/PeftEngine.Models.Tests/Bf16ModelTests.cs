using PeftEngine.Models;
using PeftEngine.Models.Generation;
using Xunit.Abstractions;

namespace PeftEngine.Tests;

/// <summary>
/// GPT-2 and the LLaMA family with bf16 or f16 weights (as HF runs torch_dtype=bfloat16 checkpoints): the forward
/// pass, the loss, cached generation and training gradients work, computing in f32 where the weights are 16-bit,
/// and the logits stay close to those of the same weights in f32 (the f32 model is built from the bf16-rounded
/// weights, so only the 16-bit activations between layers differ).
/// </summary>
public class Bf16ModelTests(ITestOutputHelper output)
{
    private static string TinyLlamaDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", "tiny-llama");
            if (File.Exists(Path.Combine(candidate, "model.safetensors"))) return candidate;
        }
        throw new DirectoryNotFoundException("models/tiny-llama not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The 16-bit model and an f32 copy of exactly its weights.</summary>
    private static (ICausalLanguageModel Half, ICausalLanguageModel Full) Pair(Func<DType, ICausalLanguageModel> load, DType half)
    {
        var model = load(DType.F32);
        model.Module.To(half);               // rounds the weights to 16 bits
        var reference = load(DType.F32);
        using (var state = model.Module.StateDict())
        using (GradMode.Disable())
            foreach (var (name, p) in reference.Module.NamedParameters())
            {
                var old = p.Data;
                p.Data = state[name].To(DType.F32);
                old.Dispose();
            }
        return (model, reference);
    }

    private double MaxAbsDifference(Tensor a, Tensor b, string what)
    {
        Assert.Equal(a.Shape, b.Shape);
        using var a32 = a.To(DType.F32);
        using var b32 = b.To(DType.F32);
        var x = a32.ToArray<float>();
        var y = b32.ToArray<float>();
        double worst = 0, scale = 0;
        for (int i = 0; i < x.Length; i++)
        {
            Assert.True(float.IsFinite(x[i]), $"{what}: non-finite logit");
            worst = Math.Max(worst, Math.Abs(x[i] - y[i]));
            scale = Math.Max(scale, Math.Abs(y[i]));
        }
        output.WriteLine($"{what}: max |logit difference| {worst:E3} (max |logit| {scale:F3})");
        return worst;
    }

    public static TheoryData<string, string> Models => new()
    {
        { "gpt2", "bf16" }, { "gpt2", "f16" }, { "llama", "bf16" }, { "qwen2", "bf16" }, { "mistral", "f16" },
    };

    private static Func<DType, ICausalLanguageModel> Loader(string name) => name == "gpt2"
        ? dtype => Gpt2Model.FromPretrained(Gpt2Fixture.Directory, dtype)
        : dtype => LlamaModel.FromPretrained(LlamaFixture.Directory(name), dtype);

    [Theory]
    [MemberData(nameof(Models))]
    public void HalfPrecisionWeightsGiveLogitsAndLossCloseToF32(string name, string dtypeName)
    {
        var half = dtypeName == "bf16" ? DType.BF16 : DType.F16;
        var (model, reference) = Pair(Loader(name), half);
        using var m = (IDisposable)model;
        using var r = (IDisposable)reference;
        using var ids = Tensor.FromArray(new long[] { 3, 17, 5, 9, 30, 2, 11, 7, 1, 4, 22, 8, 6, 13 }, 2, 7);
        using var mask = Tensor.FromArray(new long[] { 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1 }, 2, 7);
        using (GradMode.Disable())
        {
            using var logits = model.Forward(ids);
            using var expected = reference.Forward(ids);
            // same weight values, activations in f32 either way: only the summation order differs
            Assert.True(MaxAbsDifference(logits, expected, $"{name} {dtypeName} logits") < 1e-4);
            using var masked = model.Forward(ids, mask);
            Assert.Equal(new Shape(2, 7, model.VocabSize), masked.Shape);
            using var loss = model.Loss(ids, ids);
            using var lossRef = reference.Loss(ids, ids);
            double l = loss.Item(), lr = lossRef.Item();
            output.WriteLine($"{name} {dtypeName} loss {l:F5} vs f32 {lr:F5}");
            Assert.Equal(lr, l, 1e-4);
        }
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void GreedyGenerationWithTheCacheRunsOnBf16Weights(string name)
    {
        var (model, reference) = Pair(Loader(name), DType.BF16);
        using var m = (IDisposable)model;
        using var r = (IDisposable)reference;
        using var prompt = Tensor.FromArray(new long[] { 3, 17, 5, 9 }, 1, 4);
        var config = new GenerationConfig { MaxNewTokens = 6 };
        var result = TextGeneration.Generate(model, prompt, config);
        Assert.Equal(10, result.Sequences[0].Length);
        Assert.All(result.Sequences[0], id => Assert.InRange(id, 0, model.VocabSize - 1));
        var again = TextGeneration.Generate(model, prompt, config);
        Assert.Equal(result.Sequences[0], again.Sequences[0]);
    }

    [Fact]
    public void TheShippedTinyLlamaLoadsInBf16AndPredictsLikeF32()
    {
        string dir = TinyLlamaDirectory();
        using var bf16 = LlamaModel.FromPretrained(dir, DType.BF16);
        using var f32 = LlamaModel.FromPretrained(dir, DType.F32);   // the stored weights are bf16, so equal values
        Assert.All(bf16.Parameters(), p => Assert.Equal(DType.BF16, p.DType));
        using var ids = Tensor.FromArray(new long[] { 0, 120, 45, 300, 87, 1021, 66, 12, 900, 5 }, 1, 10);
        using (GradMode.Disable())
        {
            using var logits = bf16.Forward(ids);
            using var expected = f32.Forward(ids);
            Assert.True(MaxAbsDifference(logits, expected, "tiny-llama bf16 logits") < 1e-3);
            using var a = Ops.ArgMax(logits, -1);
            using var b = Ops.ArgMax(expected, -1);
            var agree = a.ToArray<long>().Zip(b.ToArray<long>()).Count(p => p.First == p.Second);
            Assert.True(agree >= 8, $"argmax agrees at {agree}/10 positions");
        }
        var result = TextGeneration.Generate(bf16, ids, new GenerationConfig { MaxNewTokens = 5 });
        Assert.Equal(15, result.Sequences[0].Length);
    }

    [Fact]
    public void GradientsFlowThroughFrozenBf16LayersToF32Parameters()
    {
        // the PEFT setting: a frozen 16-bit base and trainable f32 parameters (here the final norm's scale)
        var (model, reference) = Pair(Loader("llama"), DType.BF16);
        using var m = (IDisposable)model;
        using var r = (IDisposable)reference;
        var grads = new List<float[]>();
        foreach (var net in new[] { model, reference })
        {
            foreach (var (name, p) in net.Module.NamedParameters())
            {
                p.RequiresGrad = false;
                if (name == "model.norm.weight" && p.DType != DType.F32)
                    using (GradMode.Disable())
                    {
                        var old = p.Data;
                        p.Data = old.To(DType.F32);
                        old.Dispose();
                    }
                p.RequiresGrad = name == "model.norm.weight";
            }
            using var ids = Tensor.FromArray(new long[] { 3, 17, 5, 9, 30, 2, 11 }, 1, 7);
            using var loss = net.Loss(ids, ids);
            Engine.Backward(loss);
            var norm = net.Module.NamedParameters().Single(np => np.Name == "model.norm.weight").Parameter;
            Assert.NotNull(norm.Grad);
            grads.Add(norm.Grad!.ToArray<float>());
        }
        double worst = 0, scale = 0;
        for (int i = 0; i < grads[0].Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(grads[0][i] - grads[1][i]));
            scale = Math.Max(scale, Math.Abs(grads[1][i]));
        }
        output.WriteLine($"norm gradient: max difference {worst:E3} of max {scale:E3}");
        Assert.True(scale > 0 && worst < 0.05 * scale);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    [InlineData("qwen2")]
    public void F32CheckpointsLoadDirectlyInBf16(string name)
    {
        // here the weights themselves are rounded to bf16 (8 significant bits): logits move by ~1e-2
        using var model = (IDisposable)Loader(name)(DType.BF16);
        using var reference = (IDisposable)Loader(name)(DType.F32);
        var lm = (ICausalLanguageModel)model;
        Assert.All(lm.Module.Parameters(), p => Assert.Equal(DType.BF16, p.DType));
        using var ids = Tensor.FromArray(new long[] { 3, 17, 5, 9, 30, 2, 11 }, 1, 7);
        using (GradMode.Disable())
        {
            using var logits = lm.Forward(ids);
            using var expected = ((ICausalLanguageModel)reference).Forward(ids);
            // 2^-9 relative per weight, accumulated over the layers: a few percent of the largest logit
            using var scale = Ops.Abs(expected);
            using var max = Ops.Max(scale);
            Assert.True(MaxAbsDifference(logits, expected, $"{name} loaded as bf16 vs f32 checkpoint") < 0.04 * max.Item());
        }
    }
}
