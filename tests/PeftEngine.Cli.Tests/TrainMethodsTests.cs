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
    private readonly Dictionary<string, (FineTuneResult Result, List<TrainingProgress> Steps)> _runs = new(StringComparer.Ordinal);

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
        if (_runs.TryGetValue(key, out var run)) return run;
        var reporter = new RecordingReporter();
        var result = new FineTuneJob(options(Path.Combine(Tiny.Root, "method-" + key)), reporter).Run();
        return _runs[key] = (result, reporter.Steps);
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
        e = Assert.Throws<ArgumentException>(() => new FineTuneOptions { Method = "houlsby", LoadIn4Bit = true }.Validate());
        Assert.Contains("--load-in-4bit does not apply to --method houlsby", e.Message);
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
}
