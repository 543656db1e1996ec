using PeftEngine.Cli;
using PeftEngine.Cli.Train;
using PeftEngine.Models;
using PeftEngine.Peft;

namespace PeftEngine.Tests;

[Collection("console")]
public class MergeAndInfoCommandTests(TinyModelFolder tiny) : IClassFixture<TinyModelFolder>
{
    private string TrainedAdapter()
    {
        string output = Path.Combine(tiny.Root, "run-merge");
        if (!Directory.Exists(Path.Combine(output, "adapter")))
            new FineTuneJob(new FineTuneOptions
            {
                Model = tiny.ModelDir, Steps = 3, Batch = 4, SeqLen = 160, Lr = 2e-2, Rank = 4, EvalExamples = 1, Samples = 0, Output = output,
            }, new RecordingReporter()).Run();
        return Path.Combine(output, "adapter");
    }

    [Fact]
    public void MergedFolderGivesTheLogitsOfBasePlusAdapter()
    {
        string adapter = TrainedAdapter();
        string merged = Path.Combine(tiny.Root, "merged");
        Assert.Equal(0, CommandLine.Run(["merge", "--model", tiny.ModelDir, "--adapter", adapter, "--out", merged]));

        using var ids = Tensor.FromArray(new long[] { 5, 17, 300, 42, 9, 1000 }, 1, 6);
        var (baseLm, _) = ModelResolver.LoadCausalLm(tiny.ModelDir);
        using var peft = PeftModel.FromPretrained(baseLm.Module, adapter);
        peft.Eval();
        using var expected = ((ICausalLanguageModel)peft).Forward(ids);
        var (mergedLm, _) = ModelResolver.LoadCausalLm(merged);
        mergedLm.Module.Eval();
        using var actual = mergedLm.Forward(ids);
        TestData.AssertClose(expected, actual, 1e-5, 1e-4);
        mergedLm.Module.Dispose();
    }

    [Fact]
    public void GenerateRunsWithASavedAdapter()
    {
        Assert.Equal(0, CommandLine.Run(["generate", "--model", tiny.ModelDir, "--adapter", TrainedAdapter(), "--prompt", "Where does Anne live?", "--max-new-tokens", "3"]));
        Assert.Equal(2, CommandLine.Run(["generate", "--model", tiny.ModelDir, "--adapter", Path.Combine(tiny.Root, "no-adapter"), "--prompt", "x"]));
    }

    [Fact]
    public void InfoDescribesModelsAdaptersAndFiles()
    {
        Assert.Equal(0, CommandLine.Run(["info", tiny.ModelDir]));
        Assert.Equal(0, CommandLine.Run(["info", Path.Combine(tiny.ModelDir, "model.safetensors"), "--tensors", "2"]));
        Assert.Equal(0, CommandLine.Run(["info", TrainedAdapter()]));
        Assert.Equal(2, CommandLine.Run(["info", Path.Combine(tiny.Root, "no-such-file.safetensors")]));
    }
}
