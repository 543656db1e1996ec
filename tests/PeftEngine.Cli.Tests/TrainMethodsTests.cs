using System.Text.Json;
using PeftEngine.Cli;
using PeftEngine.Cli.Train;
using PeftEngine.IO;
using PeftEngine.IO.Safetensors;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Training;

namespace PeftEngine.Tests;

/// <summary>The tiny test model, a copy with biases (for BitFit), and one short `peft train` run per method, made once
/// and shared by the tests of <see cref="TrainMethodsTests"/>.</summary>
public sealed class MethodRuns : IDisposable
{
    private readonly Dictionary<string, (FineTuneResult Result, List<TrainingProgress> Steps, List<string> Lines)> _runs = new(StringComparer.Ordinal);

    public MethodRuns()
    {
        Tiny = new TinyModelFolder();
        BiasedModelDir = Path.Combine(Tiny.Root, "tiny-biased");
        string tokenizerPath = Path.Combine(Tiny.ModelDir, "tokenizer.json");
        string config = File.ReadAllText(Path.Combine(Tiny.ModelDir, "config.json"));
        using (var doc = JsonDocument.Parse(config))
        {
            var fields = doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object)p.Value.Clone());
            fields["attention_bias"] = true;
            fields["mlp_bias"] = true;
            config = JsonSerializer.Serialize(fields);
        }
        var model = new LlamaModel((RopeDecoderConfig)HfConfig.Parse(config), generator: new Generator(5));
        HfModelFolder.Save(BiasedModelDir, model, config, tokenizerPath, TokenizerJsonLoader.Load(tokenizerPath));
        model.Dispose();
        Directory.CreateDirectory(Path.Combine(BiasedModelDir, "data"));
        foreach (var split in new[] { "qa-train.jsonl", "qa-valid.jsonl" })
            File.Copy(Path.Combine(Tiny.ModelDir, "data", split), Path.Combine(BiasedModelDir, "data", split));
    }

    public TinyModelFolder Tiny { get; }

    /// <summary>The tiny model with attention and MLP biases.</summary>
    public string BiasedModelDir { get; }

    /// <summary>Short-run options for <paramref name="method"/> (BitFit on the biased model).</summary>
    public FineTuneOptions Options(string method, string output) => new()
    {
        Model = method == "bitfit" ? BiasedModelDir : Tiny.ModelDir, Method = method, Steps = 4, Batch = 4, SeqLen = 160,
        Lr = 2e-2, Warmup = 1, EvalExamples = 1, Samples = 1, Output = output,
    };

    /// <summary>The run of <paramref name="key"/> (made on first use).</summary>
    public (FineTuneResult Result, List<TrainingProgress> Steps) Run(string key, Func<string, FineTuneOptions> options)
    {
        var (result, steps, _) = RunWithLines(key, options);
        return (result, steps);
    }

    /// <summary>The run of <paramref name="key"/> with the information lines it reported.</summary>
    public (FineTuneResult Result, List<TrainingProgress> Steps, List<string> Lines) RunWithLines(string key, Func<string, FineTuneOptions> options)
    {
        if (_runs.TryGetValue(key, out var run)) return run;
        var reporter = new RecordingReporter();
        var result = new FineTuneJob(options(Path.Combine(Tiny.Root, "method-" + key)), reporter).Run();
        return _runs[key] = (result, reporter.Steps, reporter.Lines);
    }

    public void Dispose() => Tiny.Dispose();
}

[Collection("console")]
public class TrainMethodsTests(MethodRuns runs) : IClassFixture<MethodRuns>
{
    private (FineTuneResult Result, List<TrainingProgress> Steps) Run(string method) => runs.Run(method, output => runs.Options(method, output));

    /// <summary>Held-out loss of the saved adapter through `peft eval --adapter` on a fresh base.</summary>
    private static double ReloadedLoss(string model, string adapter) =>
        EvalCommand.Evaluate(new EvalCommand.Settings
        {
            Model = model, Adapter = adapter, Data = Path.Combine(model, "data", "qa-valid.jsonl"), Batch = 4, SeqLen = 160, EvalExamples = 0,
        }, _ => { }).Loss;

    private static (string PeftType, List<string> Keys) ReadAdapter(string adapter)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(adapter, "adapter_config.json")));
        using var file = SafetensorsFile.Open(Path.Combine(adapter, "adapter_model.safetensors"));
        return (doc.RootElement.GetProperty("peft_type").GetString()!, file.Keys.ToList());
    }

    [Theory]
    [InlineData("lora", "LORA", ".lora_A.")]
    [InlineData("dora", "LORA", ".lora_magnitude_vector")]
    [InlineData("ia3", "IA3", ".ia3_l")]
    [InlineData("bitfit", "BITFIT", "_proj.bias")]
    [InlineData("ln_tuning", "LN_TUNING", ".ln_tuning_layers.")]
    [InlineData("houlsby", "BOTTLENECK", ".adapter_down.")]
    [InlineData("parallel", "BOTTLENECK", ".mlp.adapter_up.")]
    [InlineData("prompt_tuning", "PROMPT_TUNING", "prompt_embeddings")]
    [InlineData("prefix_tuning", "PREFIX_TUNING", "prompt_embeddings")]
    [InlineData("loreft", "LOREFT", ".reft.")]
    [InlineData("direft", "DIREFT", ".reft.")]
    public void EachMethodTrainsSavesAndReloadsWithTheSameHeldOutLoss(string method, string peftType, string keyPart)
    {
        var (result, steps) = Run(method);

        Assert.False(result.Interrupted);
        Assert.Equal(4, steps.Count);
        Assert.True(result.After!.Loss.Loss < result.Before.Loss.Loss, $"{method}: held-out loss {result.Before.Loss.Loss} -> {result.After.Loss.Loss}");
        Assert.Single(result.After.Answers.Samples);
        var (type, keys) = ReadAdapter(result.AdapterDirectory!);
        Assert.Equal(peftType, type);
        Assert.Contains(keys, k => k.Contains(keyPart, StringComparison.Ordinal));
        if (peftType is not ("PROMPT_TUNING" or "PREFIX_TUNING")) Assert.All(keys, k => Assert.StartsWith("base_model.model.", k));

        string model = method == "bitfit" ? runs.BiasedModelDir : runs.Tiny.ModelDir;
        Assert.Equal(result.After.Loss.Loss, ReloadedLoss(model, result.AdapterDirectory!), 4);
    }

    [Fact]
    public void PissaRunSavesAPlainLoraOfTheOriginalBase()
    {
        var (result, _) = runs.Run("pissa", output => runs.Options("lora", output) with { Rank = 4, Alpha = 8, Init = "pissa" });
        string adapter = result.AdapterDirectory!;
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(adapter, "adapter_config.json")));
        Assert.Equal(8, doc.RootElement.GetProperty("r").GetInt32());                     // rank 2r
        Assert.Equal(16, doc.RootElement.GetProperty("lora_alpha").GetDouble());
        Assert.True(doc.RootElement.GetProperty("init_lora_weights").GetBoolean());
        Assert.True(File.Exists(Path.Combine(result.OutputDirectory, "pissa_init", "adapter_model.safetensors")));
        Assert.True(result.After!.Loss.Loss < result.Before.Loss.Loss);
        // Loaded on the unchanged base, the converted adapter gives the trained (residual base + PiSSA) model's loss.
        Assert.Equal(result.After.Loss.Loss, ReloadedLoss(runs.Tiny.ModelDir, adapter), 4);
    }

    [Fact]
    public void ResumedRunOfABottleneckAdapterEndsWhereTheUninterruptedOneDid()
    {
        var (full, _) = runs.Run("resume-full", output => runs.Options("houlsby", output) with { CheckpointEvery = 2 });
        string checkpoint = Path.Combine(full.OutputDirectory, "checkpoints", TrainingCheckpoint.FolderName(2));
        Assert.True(Directory.Exists(checkpoint), checkpoint);
        var (resumed, steps) = runs.Run("resume-second-half", output => runs.Options("houlsby", output) with { Resume = checkpoint });
        Assert.Equal([3, 4], steps.Select(s => s.Step));
        Assert.Equal(full.After!.Loss.Loss, resumed.After!.Loss.Loss, 6);
    }

    [Fact]
    public void MergeRefusesAdaptersThatCannotBeMergedAndMergesIa3()
    {
        string houlsby = Run("houlsby").Result.AdapterDirectory!;
        string refused = Path.Combine(runs.Tiny.Root, "merged-houlsby");
        Assert.Equal(2, CommandLine.Run(["merge", "--model", runs.Tiny.ModelDir, "--adapter", houlsby, "--out", refused]));
        Assert.False(Directory.Exists(refused));
        var e = Assert.Throws<NotSupportedException>(() => MergeCommand.RefuseUnmergeable(houlsby));
        Assert.Contains("BOTTLENECK adapter cannot be merged", e.Message);

        string merged = Path.Combine(runs.Tiny.Root, "merged-ia3");
        Assert.Equal(0, CommandLine.Run(["merge", "--model", runs.Tiny.ModelDir, "--adapter", Run("ia3").Result.AdapterDirectory!, "--out", merged]));
        Assert.True(File.Exists(Path.Combine(merged, "model.safetensors")));
    }

    [Fact]
    public void OptionsOfAnotherMethodAreRefusedByName()
    {
        var e = Assert.Throws<ArgumentException>(() => TrainCommand.ToOptions(new TrainCommand.Settings { Method = "ia3", Rank = 4 }).Validate());
        Assert.Contains("--rank does not apply to --method ia3", e.Message);
        e = Assert.Throws<ArgumentException>(() => TrainCommand.ToOptions(new TrainCommand.Settings { Method = "lora", BottleneckSize = 8, LoadIn4Bit = null }).Validate());
        Assert.Contains("--bottleneck-size does not apply to --method lora (it applies to houlsby, parallel)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new FineTuneOptions { Method = "houlsby", Fuse = "a,b" }.Validate());
        Assert.Contains("--fuse does not apply to --method houlsby (it applies to adapter_fusion)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new FineTuneOptions { Method = "vera" }.Validate());
        Assert.Contains("available: lora, dora, ia3", e.Message);

        string config = Path.Combine(runs.Tiny.Root, "parallel.yaml");
        File.WriteAllText(config, "method: parallel\nbottleneck_size: 8\nadapter-scaling: 2\n");
        var options = TrainCommand.ToOptions(new TrainCommand.Settings { Config = config });
        var setup = TrainMethods.Create(options, runs.Tiny.ModelDir);
        var bottleneck = Assert.IsType<Peft.Adapters.BottleneckConfig>(setup.Config);
        Assert.True(bottleneck.UseParallelAdapter);
        Assert.Equal(8, bottleneck.BottleneckSize);
        Assert.Equal(2, bottleneck.Scaling);
        Assert.Equal("relu", bottleneck.NonLinearity);
        Assert.Equal(Path.Combine("runs", "tiny-llama-parallel"), options.OutputDirectory);
        Assert.Equal(2, CommandLine.Run(["train", "--method", "ia3", "--alpha", "4"]));
        e = Assert.Throws<ArgumentException>(() => new FineTuneOptions { Method = "prompt_tuning", ReftPositions = "f2" }.Validate());
        Assert.Contains("--reft-positions does not apply to --method prompt_tuning (it applies to loreft, direft)", e.Message);

        var reft = Assert.IsType<Peft.Reft.LoreftConfig>(TrainMethods.Create(new FineTuneOptions { Method = "loreft", Rank = 2, ReftLayers = "0", ReftPositions = "f3+l3" }, runs.Tiny.ModelDir).Config);
        Assert.Equal([0], reft.Layers!);
        Assert.Equal("f3+l3", reft.Positions);
        Assert.Equal(2, reft.LowRankDimension);
        var prefix = Assert.IsType<Peft.Prompt.PrefixTuningConfig>(TrainMethods.Create(new FineTuneOptions { Method = "prefix", NumVirtualTokens = 5, PrefixProjection = true }, runs.Tiny.ModelDir).Config);
        Assert.Equal(5, prefix.NumVirtualTokens);
        Assert.True(prefix.PrefixProjection);
        Assert.Throws<ArgumentException>(() => TrainMethods.Create(new FineTuneOptions { Method = "loreft", ReftPositions = "x3" }, runs.Tiny.ModelDir));
    }

    [Fact]
    public void BitFitOnAModelWithoutBiasesIsAClearError()
    {
        var e = Assert.Throws<ArgumentException>(() => new FineTuneJob(runs.Options("bitfit", Path.Combine(runs.Tiny.Root, "no-bias")) with { Model = runs.Tiny.ModelDir },
            new RecordingReporter()).Run());
        Assert.Contains("has no bias terms", e.Message);
    }

    [Theory]
    [InlineData("lora")]
    [InlineData("dora")]
    [InlineData("ia3")]
    [InlineData("bitfit")]
    [InlineData("ln_tuning")]
    [InlineData("houlsby")]
    [InlineData("parallel")]
    [InlineData("prompt_tuning")]
    [InlineData("prefix_tuning")]
    [InlineData("loreft")]
    [InlineData("direft")]
    public void EachMethodTrainsOverAFourBitBase(string method)
    {
        var (result, steps, lines) = runs.RunWithLines("4bit-" + method, output => runs.Options(method, output) with { LoadIn4Bit = true, Steps = 2 });
        // q, k, v, o, gate, up and down of the one decoder layer
        Assert.Contains(lines, l => l.StartsWith("4-bit base: 7 Linear layers in NF4", StringComparison.Ordinal));
        Assert.False(result.Interrupted);
        Assert.Equal(2, steps.Count);
        Assert.All(steps, s => Assert.True(double.IsFinite(s.Loss) && double.IsFinite(s.GradNorm) && s.GradNorm > 0, $"{method} step {s.Step}: loss {s.Loss}, grad norm {s.GradNorm}"));
        Assert.True(double.IsFinite(result.After!.Loss.Loss));
        Assert.NotEqual(result.Before.Loss.Loss, result.After.Loss.Loss);   // the adapter trained and changes the 4-bit model's output
        Assert.True(File.Exists(Path.Combine(result.AdapterDirectory!, "adapter_model.safetensors")));
    }

    /// <summary>Two houlsby adapters trained on the tiny model (different seeds), for the fusion tests.</summary>
    private (string A, string B) TwoHoulsbyAdapters()
    {
        string a = Run("houlsby").Result.AdapterDirectory!;
        string b = runs.Run("houlsby-seed1", output => runs.Options("houlsby", output) with { Seed = 1 }).Result.AdapterDirectory!;
        return (a, b);
    }

    [Fact]
    public void AdapterFusionTrainsOverTwoHoulsbyAdaptersAndReloadsInEvalAndGenerate()
    {
        var (a, b) = TwoHoulsbyAdapters();
        var (result, steps, lines) = runs.RunWithLines("fusion", output => runs.Options("adapter_fusion", output) with { Fuse = $"{a},{b}" });
        Assert.Equal(4, steps.Count);
        Assert.Contains(lines, l => l == "method: AdapterFusion of method-houlsby, method-houlsby-seed1 (frozen) temperature=1 targets=every sub-layer holding all of them");
        Assert.True(result.After!.Loss.Loss < result.Before.Loss.Loss, $"held-out loss {result.Before.Loss.Loss} -> {result.After.Loss.Loss}");

        // the fusion at the root, each fused adapter in its subfolder
        string adapter = result.AdapterDirectory!;
        var (type, keys) = ReadAdapter(adapter);
        Assert.Equal("ADAPTER_FUSION", type);
        Assert.Contains(keys, k => k.EndsWith(".adapter_fusion.value.weight", StringComparison.Ordinal));
        Assert.DoesNotContain(keys, k => k.Contains(".adapter_down.", StringComparison.Ordinal));
        Assert.Equal("BOTTLENECK", ReadAdapter(Path.Combine(adapter, "method-houlsby")).PeftType);
        Assert.Equal("BOTTLENECK", ReadAdapter(Path.Combine(adapter, "method-houlsby-seed1")).PeftType);
        // the fused adapters were frozen: saved as they were loaded
        using (var original = SafetensorsFile.Open(Path.Combine(a, "adapter_model.safetensors")))
        using (var saved = SafetensorsFile.Open(Path.Combine(adapter, "method-houlsby", "adapter_model.safetensors")))
            foreach (string key in original.Keys)
            {
                using var x = original.Load(key);
                using var y = saved.Load(key);
                Assert.True(x.ToFloatArray().AsSpan().SequenceEqual(y.ToFloatArray()), $"fused adapter changed: {key}");
            }

        Assert.Equal(result.After.Loss.Loss, ReloadedLoss(runs.Tiny.ModelDir, adapter), 4);   // peft eval --adapter <fusion folder>
        Assert.Equal(0, CommandLine.Run(["generate", "--model", runs.Tiny.ModelDir, "--adapter", adapter, "--prompt", "Where", "--max-new-tokens", "2"]));
        Assert.Equal(2, CommandLine.Run(["merge", "--model", runs.Tiny.ModelDir, "--adapter", adapter, "--out", Path.Combine(runs.Tiny.Root, "merged-fusion")]));
    }

    [Fact]
    public void AdapterFusionNeedsTwoSeriesBottleneckAdapters()
    {
        var (a, _) = TwoHoulsbyAdapters();
        string ia3 = Run("ia3").Result.AdapterDirectory!;
        string parallel = Run("parallel").Result.AdapterDirectory!;
        FineTuneOptions Fusion(string? fuse) => runs.Options("adapter_fusion", Path.Combine(runs.Tiny.Root, "fusion-refused")) with { Fuse = fuse };
        var e = Assert.Throws<ArgumentException>(() => TrainMethods.Create(Fusion(null), runs.Tiny.ModelDir));
        Assert.Contains("--method adapter_fusion needs --fuse", e.Message);
        e = Assert.Throws<ArgumentException>(() => TrainMethods.Create(Fusion(a), runs.Tiny.ModelDir));
        Assert.Contains("--fuse needs at least two adapter folders", e.Message);
        e = Assert.Throws<ArgumentException>(() => TrainMethods.Create(Fusion($"{a},{ia3}"), runs.Tiny.ModelDir));
        Assert.Contains("holds a IA3 adapter; AdapterFusion fuses series bottleneck adapters", e.Message);
        e = Assert.Throws<ArgumentException>(() => TrainMethods.Create(Fusion($"{a},{parallel}"), runs.Tiny.ModelDir));
        Assert.Contains("holds a parallel bottleneck adapter", e.Message);
        Assert.Equal(2, CommandLine.Run(["train", "--model", runs.Tiny.ModelDir, "--method", "adapter_fusion", "--fuse", $"{a},{Path.Combine(runs.Tiny.Root, "missing")}"]));

        // a fusion folder without its fused adapters is named
        var (fusion, _, _) = runs.RunWithLines("fusion", output => runs.Options("adapter_fusion", output) with { Fuse = $"{a},{TwoHoulsbyAdapters().B}" });
        string copy = Path.Combine(runs.Tiny.Root, "fusion-alone");
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(fusion.AdapterDirectory!)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        e = Assert.Throws<ArgumentException>(() => ReloadedLoss(runs.Tiny.ModelDir, copy));
        Assert.Contains("lacks its fused adapter 'method-houlsby'", e.Message);
    }
}
