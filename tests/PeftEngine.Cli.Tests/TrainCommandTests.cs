using PeftEngine.Cli;
using PeftEngine.Cli.Train;
using PeftEngine.Models.Training;
using PeftEngine.Peft;

namespace PeftEngine.Tests;

[Collection("console")]
public class TrainCommandTests(TinyModelFolder tiny) : IClassFixture<TinyModelFolder>
{

    private FineTuneOptions Options(string output) => new()
    {
        Model = tiny.ModelDir, Steps = 6, Batch = 4, SeqLen = 160, Lr = 1e-2, Warmup = 1, Rank = 4, Alpha = 8,
        EvalExamples = 4, Samples = 2, Output = output,
    };

    [Fact]
    public void FineTuneJobTrainsScoresAndSavesAReloadableAdapter()
    {
        string output = Path.Combine(tiny.Root, "run-job");
        var reporter = new RecordingReporter();
        var result = new FineTuneJob(Options(output), reporter).Run();

        Assert.False(result.Interrupted);
        Assert.Equal(6, reporter.Steps.Count);
        Assert.True(reporter.Steps[^1].Loss < reporter.Steps[0].Loss, $"loss {reporter.Steps[0].Loss} -> {reporter.Steps[^1].Loss}");
        Assert.True(result.After!.Loss.Loss < result.Before.Loss.Loss, $"held-out loss {result.Before.Loss.Loss} -> {result.After.Loss.Loss}");
        Assert.Equal(4, result.Before.Answers.Samples.Count);
        Assert.Equal(4, result.After.Answers.Samples.Count);
        Assert.Contains(reporter.Lines, l => l.StartsWith("trainable params: ", StringComparison.Ordinal));

        string adapter = Path.Combine(output, "adapter");
        Assert.True(File.Exists(Path.Combine(adapter, "adapter_config.json")));
        Assert.True(File.Exists(Path.Combine(adapter, "adapter_model.safetensors")));
        Assert.Equal(6 + 2, File.ReadAllLines(Path.Combine(output, "training_log.jsonl")).Length);
        Assert.StartsWith("<svg", File.ReadAllText(Path.Combine(output, "loss_curve.svg")));

        // The saved adapter reproduces the trained model's held-out loss on a fresh base.
        var (lm, _) = ModelResolver.LoadCausalLm(tiny.ModelDir);
        using var reloaded = PeftModel.FromPretrained(lm.Module, adapter);
        var formatter = new IO.Datasets.SupervisedFormatter(t => IO.Tokenizers.TokenizerJsonLoader.Load(Path.Combine(tiny.ModelDir, "tokenizer.json")).Encode(t, false))
        {
            EndOfResponseId = 0, MaxLength = 160,
        };
        var examples = formatter.FormatAll(IO.Datasets.JsonlDataset.Read(Path.Combine(tiny.ModelDir, "data", "qa-valid.jsonl")));
        var loss = Evaluator.Evaluate(reloaded, new BatchLoader(examples, 4, 1, null).OnePass());
        Assert.Equal(result.After.Loss.Loss, loss.Loss, 5);
    }

    [Fact]
    public void TrainCommandRunsFromTheCommandLineWithAConfigFile()
    {
        string output = Path.Combine(tiny.Root, "run-cli");
        string config = Path.Combine(tiny.Root, "train.yaml");
        File.WriteAllText(config, $"model: {tiny.ModelDir}\nsteps: 2\nbatch: 2\nseq_len: 160\nrank: 2\neval-examples: 2\nsamples: 1\n");
        int code = CommandLine.Run(["train", "--config", config, "--output", output, "--lr", "0.01"]);
        Assert.Equal(0, code);
        Assert.True(File.Exists(Path.Combine(output, "adapter", "adapter_model.safetensors")));
        var log = File.ReadAllLines(Path.Combine(output, "training_log.jsonl"));
        Assert.Equal(2 + 2, log.Length);
    }

    [Fact]
    public void QLoraRunTrainsAdaptersOverAFourBitBase()
    {
        string output = Path.Combine(tiny.Root, "run-qlora");
        var reporter = new RecordingReporter();
        var result = new FineTuneJob(Options(output) with { LoadIn4Bit = true, Steps = 4 }, reporter).Run();
        Assert.Contains(reporter.Lines, l => l.StartsWith("4-bit base: 7 Linear layers in NF4 with double quantization", StringComparison.Ordinal));
        Assert.True(result.After!.Loss.Loss < result.Before.Loss.Loss, $"held-out loss {result.Before.Loss.Loss} -> {result.After.Loss.Loss}");
        Assert.True(File.Exists(Path.Combine(output, "adapter", "adapter_model.safetensors")));
    }

    [Fact]
    public void LoftqWithAFourBitBaseWrapsFirstAndQuantizesOnlyTheBase()
    {
        string output = Path.Combine(tiny.Root, "run-loftq");
        var reporter = new RecordingReporter();
        var result = new FineTuneJob(Options(output) with { LoadIn4Bit = true, Init = "loftq", Steps = 3 }, reporter).Run();
        Assert.Contains(reporter.Lines, l => l.StartsWith("4-bit base: 7 Linear layers", StringComparison.Ordinal));   // adapter factors stay F32
        Assert.False(result.Interrupted);
        string config = File.ReadAllText(Path.Combine(output, "adapter", "adapter_config.json"));
        Assert.Contains("\"init_lora_weights\": \"loftq\"", config);
        Assert.Contains("\"loftq_bits\": 4", config);
    }

    [Fact]
    public void ConfigFileValuesAreOverriddenByFlagsAndBadKeysAreNamed()
    {
        string config = Path.Combine(tiny.Root, "bad.yaml");
        File.WriteAllText(config, "rank: 4\nsteps: 10\n");
        var options = TrainCommand.ToOptions(new TrainCommand.Settings { Config = config, Steps = 3 });
        Assert.Equal(4, options.Rank);
        Assert.Equal(3, options.Steps);

        File.WriteAllText(config, "rank: four\n");
        var e = Assert.Throws<ArgumentException>(() => TrainCommand.ToOptions(new TrainCommand.Settings { Config = config }));
        Assert.Contains("'rank'", e.Message);
        File.WriteAllText(config, "ranks: 4\n");
        e = Assert.Throws<ArgumentException>(() => TrainCommand.ToOptions(new TrainCommand.Settings { Config = config }));
        Assert.Contains("unknown key 'ranks'", e.Message);
    }

    [Fact]
    public void BadArgumentsExitWithCodeTwo()
    {
        Assert.Equal(2, CommandLine.Run(["train", "--steps", "0"]));
        Assert.Equal(2, CommandLine.Run(["train", "--model", Path.Combine(tiny.Root, "missing")]));
        Assert.Equal(2, CommandLine.Run(["train", "--no-such-option"]));
        Assert.Equal(2, CommandLine.Run(["demo", "--bogus", "1"]));
    }
}
