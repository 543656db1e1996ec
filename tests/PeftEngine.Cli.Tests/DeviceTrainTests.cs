using PeftEngine.Cli;
using PeftEngine.Cli.Train;
using PeftEngine.IO.Safetensors;
using PeftEngine.Models.Training;

namespace PeftEngine.Tests;

/// <summary><c>peft train --device</c>: LoRA training, held-out scoring and generation of a tiny LLaMA on the GPU
/// backend (ILGPU's CPU accelerator, <c>gpu-sim</c>) give what the CPU gives.</summary>
[Collection("console")]
public class DeviceTrainTests(TinyModelFolder tiny) : IClassFixture<TinyModelFolder>
{

    private (FineTuneResult Result, RecordingReporter Report) Train(string device, string? resume = null, string? name = null, double dropout = 0, bool loadIn4Bit = false)
    {
        // few records keep the simulated GPU (threads emulated on the host) quick: 2 steps of 2, 2 held-out sequences,
        // no exact-match answers (generation is checked by GenerateOnTheSimulatedGpuGivesTheCpusTokens)
        string data = Path.Combine(tiny.Root, "device-data");
        Directory.CreateDirectory(data);
        File.WriteAllLines(Path.Combine(data, "train.jsonl"), File.ReadLines(Path.Combine(tiny.ModelDir, "data", "qa-train.jsonl")).Take(4));
        File.WriteAllLines(Path.Combine(data, "valid.jsonl"), File.ReadLines(Path.Combine(tiny.ModelDir, "data", "qa-valid.jsonl")).Take(2));
        var reporter = new RecordingReporter();
        var options = new FineTuneOptions
        {
            Model = tiny.ModelDir, Data = Path.Combine(data, "train.jsonl"), EvalData = Path.Combine(data, "valid.jsonl"), Steps = 2, Batch = 2, SeqLen = 160, Lr = 1e-2, Warmup = 0, Rank = 4, Alpha = 8, Dropout = dropout,
            EvalExamples = 0, Samples = 0, Device = device, Output = Path.Combine(tiny.Root, "run-" + (name ?? device)),
            CheckpointEvery = 1, Resume = resume, LoadIn4Bit = loadIn4Bit,
        };
        return (new FineTuneJob(options, reporter).Run(), reporter);
    }

    [Fact]
    public void LoraTrainingOnTheSimulatedGpuMatchesTheCpu()
    {
        var (cpu, cpuReport) = Train("cpu");
        var (gpu, gpuReport) = Train("gpu-sim");

        Assert.Contains("device: ilgpucpu:0", gpuReport.Lines);
        // the base is scored before training on the device too, and gives the CPU's numbers
        Assert.Contains("scoring the base model on ilgpucpu:0 before training", gpuReport.Lines);
        Assert.DoesNotContain(cpuReport.Lines, l => l.StartsWith("scoring the base model on", StringComparison.Ordinal));
        Assert.Equal(cpu.Before.Loss.Tokens, gpu.Before.Loss.Tokens);
        Assert.Equal(cpu.Before.Loss.Loss, gpu.Before.Loss.Loss, 4);
        Assert.Equal(2, gpuReport.Steps.Count);
        for (int i = 0; i < 2; i++)
            Assert.Equal(cpuReport.Steps[i].Loss, gpuReport.Steps[i].Loss, 4);                 // training loss per step
        Assert.Equal(cpu.After!.Loss.Loss, gpu.After!.Loss.Loss, 4);                           // held-out loss after training

        using var a = SafetensorsFile.Open(Path.Combine(cpu.AdapterDirectory!, "adapter_model.safetensors"));
        using var b = SafetensorsFile.Open(Path.Combine(gpu.AdapterDirectory!, "adapter_model.safetensors"));
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        Assert.Contains(a.Keys, k => k.Contains(".lora_B.", StringComparison.Ordinal));
        foreach (string key in a.Keys)
        {
            using var x = a.Load(key);
            using var y = b.Load(key);
            double[] xs = x.ToDoubleArray(), ys = y.ToDoubleArray();
            Assert.Equal(xs.Length, ys.Length);
            for (int i = 0; i < xs.Length; i++)
                Assert.True(Math.Abs(xs[i] - ys[i]) <= 1e-4 + 1e-3 * Math.Abs(xs[i]), $"{key}[{i}]: cpu {xs[i]} vs gpu-sim {ys[i]}");
        }

        // resuming on the device from the step-1 checkpoint (weights and AdamW state loaded onto the device) gives step 2 again
        string checkpoint = Path.Combine(gpu.OutputDirectory, "checkpoints", TrainingCheckpoint.FolderName(1));
        var (resumed, resumedReport) = Train("gpu-sim", checkpoint, "gpu-sim-resumed");
        Assert.Equal(gpuReport.Steps[1].Loss, Assert.Single(resumedReport.Steps).Loss, 6);
        Assert.Equal(gpu.After.Loss.Loss, resumed.After!.Loss.Loss, 6);
    }

    [Fact]
    public void QLoraTrainingOnTheSimulatedGpuMatchesTheCpu()
    {
        // the NF4 base moves to the device with its packed weights; its products run in the GPU's 4-bit kernels
        var (cpu, cpuReport) = Train("cpu", name: "cpu-4bit", loadIn4Bit: true);
        var (gpu, gpuReport) = Train("gpu-sim", name: "gpu-sim-4bit", loadIn4Bit: true);
        Assert.Equal(cpu.Before.Loss.Loss, gpu.Before.Loss.Loss, 4);
        Assert.Equal(2, gpuReport.Steps.Count);
        for (int i = 0; i < 2; i++)
            Assert.Equal(cpuReport.Steps[i].Loss, gpuReport.Steps[i].Loss, 4);
        Assert.Equal(cpu.After!.Loss.Loss, gpu.After!.Loss.Loss, 4);
        Assert.NotEqual(cpu.Before.Loss.Loss, cpu.After.Loss.Loss);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("gpu-sim")]
    public void WithDropoutAResumedRunRepeatsTheUninterruptedSteps(string device)
    {
        // the LoRA dropout masks come from the run's generator: the checkpoint must carry its position, else the
        // resumed step 2 draws step 1's masks again
        var (full, fullReport) = Train(device, name: device + "-dropout", dropout: 0.3);
        string checkpoint = Path.Combine(full.OutputDirectory, "checkpoints", TrainingCheckpoint.FolderName(1));
        var (resumed, resumedReport) = Train(device, checkpoint, device + "-dropout-resumed", dropout: 0.3);
        Assert.Equal(fullReport.Steps[1].Loss, Assert.Single(resumedReport.Steps).Loss, 12);
        Assert.Equal(full.After!.Loss.Loss, resumed.After!.Loss.Loss, 12);
    }

    [Fact]
    public void GenerateOnTheSimulatedGpuGivesTheCpusTokens()
    {
        long[][] Run(string device)
        {
            var settings = new GenerateCommand.Settings { Model = tiny.ModelDir, Device = device, MaxNewTokens = 4 };
            using var loaded = LoadedLanguageModel.Load(settings.Model);
            settings.MoveToDevice(loaded);
            Assert.Equal(device == "cpu" ? Device.Cpu : new Device(DeviceKind.IlgpuCpu), Models.ModelDevice.Of(loaded.Model.Module));
            long[] prompt = loaded.Tokenizer.Encode("Where does Anne live?").Select(i => (long)i).ToArray();
            return GenerateCommand.Stream(loaded, prompt, settings.ToConfig([], 4), _ => { }).Sequences;
        }
        Assert.Equal(Run("cpu"), Run("gpu-sim"));
    }

    [Fact]
    public void DeviceOptionParsesAndNamesAnUnopenableDevice()
    {
        Assert.Equal(Device.Cpu, DeviceOption.Parse(null));
        Assert.Equal(new Device(DeviceKind.Cuda, 1), DeviceOption.Parse("cuda:1"));
        Assert.Equal(new Device(DeviceKind.OpenCL, 0), DeviceOption.Parse("opencl"));
        Assert.Equal(new Device(DeviceKind.IlgpuCpu), DeviceOption.Parse("gpu-sim"));
        Assert.Throws<ArgumentException>(() => DeviceOption.Parse("tpu:0"));
        var e = Assert.Throws<ArgumentException>(() => DeviceOption.Open("cuda:7"));   // no test machine has eight CUDA devices
        Assert.StartsWith("--device cuda:7: no CUDA device could be opened: ", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(2, CommandLine.Run(["train", "--device", "cuda:7", "--model", tiny.ModelDir, "--steps", "1"]));
    }
}
