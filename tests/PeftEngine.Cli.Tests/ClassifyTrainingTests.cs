using System.Text.Json;
using PeftEngine.Cli;
using PeftEngine.Cli.Classify;
using PeftEngine.IO.Safetensors;
using PeftEngine.Models.Training;

namespace PeftEngine.Tests;

/// <summary><c>peft train --task classify</c> on a tiny BERT: options from a config file (flags win), and Ctrl+C
/// checkpoints that resume to exactly the uninterrupted run.</summary>
[Collection("console")]
public class ClassifyTrainingTests(TinyBertFolder bert) : IClassFixture<TinyBertFolder>
{
    private ClassifyOptions Options(string name) => new()
    {
        Model = bert.ModelDir, Data = bert.Train, EvalData = bert.Valid, Steps = 5, Batch = 4, SeqLen = 12, Rank = 2, Alpha = 4,
        Lr = 1e-2, Warmup = 1, Output = Path.Combine(bert.Root, name),   // dropout 0.1 in LoRA and in the encoder
    };

    [Fact]
    public void ConfigFileValuesAreUsedAndFlagsOverrideThem()
    {
        string output = Path.Combine(bert.Root, "from-config");
        string config = Path.Combine(bert.Root, "classify.yaml");
        File.WriteAllText(config, $"""
            model: {bert.ModelDir}
            data: {bert.Train}
            eval_data: {bert.Valid}
            steps: 6
            batch: 4
            seq-len: 12
            r: 3
            lora_alpha: 6
            learning_rate: 0.01
            output: {output}
            """);
        var options = TrainCommand.ToClassifyOptions(new TrainCommand.Settings { Config = config, Steps = 2 });
        Assert.Equal((2, 3, 6.0, 0.01, 12), (options.Steps, options.Rank, options.Alpha, options.Lr, options.SeqLen));

        Assert.Equal(0, CommandLine.Run(["train", "--config", config, "--steps", "2", "--alpha", "5"]));
        var log = File.ReadAllLines(Path.Combine(output, "training_log.jsonl"));
        Assert.Equal(2 + 2, log.Length);                                    // --steps 2 beat steps: 6
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "adapter", "adapter_config.json")));
        Assert.Equal(3, doc.RootElement.GetProperty("r").GetInt32());       // from the file
        Assert.Equal(5, doc.RootElement.GetProperty("lora_alpha").GetDouble());   // the flag
        Assert.Equal("SEQ_CLS", doc.RootElement.GetProperty("task_type").GetString());

        // a key of the causal-LM job in the file is refused by name, as the flag would be
        File.AppendAllText(config, "\ninit: pissa\n");
        var e = Assert.Throws<ArgumentException>(() => TrainCommand.ToClassifyOptions(new TrainCommand.Settings { Config = config }));
        Assert.Contains("--init not available with --task classify", e.Message);
        Assert.Equal(2, CommandLine.Run(["train", "--config", config]));
    }

    [Fact]
    public void AnInterruptedRunResumesToTheAdapterOfAnUninterruptedOne()
    {
        var straight = new ClassifyJob(Options("straight"), new RecordingClassifyReporter()).Run();
        Assert.False(straight.Interrupted);

        using var cancel = new CancellationTokenSource();
        var first = new ClassifyJob(Options("interrupted"), new RecordingClassifyReporter { OnProgress = p => { if (p.Step == 2) cancel.Cancel(); } })
            .Run(cancel.Token);
        Assert.True(first.Interrupted);
        Assert.Null(first.After);
        Assert.Equal(2, first.Steps);
        Assert.Equal(TrainingCheckpoint.FolderName(2), Path.GetFileName(first.CheckpointDirectory));
        Assert.False(Directory.Exists(Path.Combine(first.CheckpointDirectory!, "..", "..", "adapter")));

        var reporter = new RecordingClassifyReporter();
        var resumed = new ClassifyJob(Options("interrupted") with { Resume = first.CheckpointDirectory }, reporter).Run();
        Assert.Equal([3, 4, 5], reporter.Steps.Select(s => s.Step));
        Assert.Equal(straight.After!.Loss, resumed.After!.Loss);
        Assert.Equal(straight.After.Predictions, resumed.After.Predictions);

        using var a = SafetensorsFile.Open(Path.Combine(straight.AdapterDirectory!, "adapter_model.safetensors"));
        using var b = SafetensorsFile.Open(Path.Combine(resumed.AdapterDirectory!, "adapter_model.safetensors"));
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        Assert.Contains(a.Keys, k => k.Contains(".lora_B.", StringComparison.Ordinal));
        Assert.Contains(a.Keys, k => k.Contains("classifier", StringComparison.Ordinal));
        foreach (string key in a.Keys)
        {
            using var x = a.Load(key);
            using var y = b.Load(key);
            Assert.True(x.ToFloatArray().AsSpan().SequenceEqual(y.ToFloatArray()), $"{key} differs after resume");
        }
    }
}
