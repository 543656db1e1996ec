using System.Text;
using System.Text.Json;
using PeftEngine.IO;
using PeftEngine.IO.Safetensors;
using PeftEngine.IO.Tokenizers;
using PeftEngine.IO.Tokenizers.Training;
using PeftEngine.Models;
using PeftEngine.Models.Training;

namespace PeftEngine.Tests.Training;

/// <summary>End to end: text + tokenizer + config -> trained HF folder, with stop and resume.</summary>
public sealed class PretrainingTests : IDisposable
{
    private readonly string _dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "peft-pretrain-" + Guid.NewGuid().ToString("N"));

    public PretrainingTests()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path("train.txt"), Text(600, seed: 1));
        File.WriteAllText(Path("valid.txt"), Text(150, seed: 2));
        var bpe = BpeTrainer.Train([File.ReadAllText(Path("train.txt"))], new BpeTrainerOptions { VocabSize = 4 + 256 + 40 });
        bpe.Save(Path("tokenizer.json"));
        File.WriteAllText(Path("config.json"), $$"""
            {"model_type": "gpt2", "vocab_size": {{bpe.VocabSize}}, "n_positions": 32, "n_embd": 16, "n_layer": 2, "n_head": 2,
             "attn_pdrop": 0.1, "resid_pdrop": 0.1, "embd_pdrop": 0.1}
            """);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Path(string name) => System.IO.Path.Combine(_dir, name);

    private static string Text(int sentences, int seed)
    {
        string[] subjects = ["the whale", "the captain", "Miss Bennet", "the ship", "a sailor"], verbs = ["saw", "loved", "followed", "left"],
            objects = ["the sea", "the harpoon", "Mr. Darcy", "the island", "a letter"];
        var rng = new Random(seed);
        var sb = new StringBuilder();
        for (int i = 0; i < sentences; i++)
        {
            sb.Append($"{subjects[rng.Next(5)]} {verbs[rng.Next(4)]} {objects[rng.Next(5)]}. ");
            if (i % 40 == 39) sb.Append("\n<|endoftext|>\n");
        }
        return sb.ToString();
    }

    private PretrainOptions Options(string output, int? stopAfter = null, string? resume = null) => new()
    {
        TrainText = Path("train.txt"),
        ValidText = Path("valid.txt"),
        TokenizerPath = Path("tokenizer.json"),
        ConfigPath = Path("config.json"),
        OutputDirectory = output,
        SequenceLength = 16,
        BatchSize = 4,
        StopAfter = stopAfter,
        ResumeFrom = resume,
        Trainer = new TrainerOptions { MaxSteps = 6, LearningRate = 5e-3, WarmupSteps = 1, GradientAccumulationSteps = 2, EvalEvery = 3, EvalBatches = 2 },
    };

    private static ICausalLanguageModel Gpt2(HfModelConfig config, Generator generator) =>
        new Gpt2Model((Gpt2Config)config, generator: generator);

    [Fact]
    public void Run_WritesAnHfFolderThatReloads()
    {
        var lines = new List<string>();
        var result = Pretraining.Run(Options(Path("out")), Gpt2, lines.Add);

        Assert.True(result.Completed);
        Assert.Equal(6, result.History.Count);
        Assert.Equal([3, 6], result.Evaluations.Select(e => e.Step));
        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "training_log.jsonl" })
            Assert.True(File.Exists(Path("out/" + f)), f);
        Assert.Contains(lines, l => l.StartsWith("step 6/6", StringComparison.Ordinal));
        Assert.Equal(6 + 2, File.ReadAllLines(Path("out/training_log.jsonl")).Length);
        using (var generation = JsonDocument.Parse(File.ReadAllText(Path("out/generation_config.json"))))
        {
            Assert.Equal(0, generation.RootElement.GetProperty("eos_token_id").GetInt32());
            Assert.Equal(1, generation.RootElement.GetProperty("pad_token_id").GetInt32());
        }

        // The saved weights give the held-out loss the run measured last.
        using var reloaded = Gpt2Model.FromPretrained(Path("out"));
        var tokenizer = TokenizerJsonLoader.Load(Path("out/tokenizer.json"));
        var windows = IO.Datasets.TextChunker.ChunkFile(Path("valid.txt"), s => tokenizer.Encode(s, false), 16, dropLast: true);
        var eval = Evaluator.Evaluate(reloaded, new BatchLoader(windows, 4, 1, seed: null).OnePass(), maxBatches: 2);
        Assert.Equal(result.Evaluations[^1].Loss, eval.Loss, 6);
    }

    [Fact]
    public void Llama_TrainsFromItsConfigAndReloads()
    {
        int vocab = TokenizerJsonLoader.Load(Path("tokenizer.json")).VocabSize;
        File.WriteAllText(Path("llama.json"), $$"""
            {"model_type": "llama", "vocab_size": {{vocab}}, "hidden_size": 16, "intermediate_size": 40, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 32, "rms_norm_eps": 1e-5,
             "tie_word_embeddings": true}
            """);
        static ICausalLanguageModel Llama(HfModelConfig c, Generator g) => new LlamaModel((RopeDecoderConfig)c, generator: g);
        var result = Pretraining.Run(Options(Path("llama")) with { ConfigPath = Path("llama.json") }, Llama);
        Assert.True(result.Completed);
        Assert.True(result.Evaluations[^1].Loss < Math.Log(vocab), $"held-out loss {result.Evaluations[^1].Loss} vs uniform {Math.Log(vocab)}");

        using var reloaded = LlamaModel.FromPretrained(Path("llama"));
        var tokenizer = TokenizerJsonLoader.Load(Path("llama/tokenizer.json"));
        var windows = IO.Datasets.TextChunker.ChunkFile(Path("valid.txt"), s => tokenizer.Encode(s, false), 16, dropLast: true);
        var eval = Evaluator.Evaluate(reloaded, new BatchLoader(windows, 4, 1, seed: null).OnePass(), maxBatches: 2);
        Assert.Equal(result.Evaluations[^1].Loss, eval.Loss, 6);
        using var file = SafetensorsFile.Open(Path("llama/model.safetensors"));
        Assert.False(file.Contains("lm_head.weight"));   // tied: stored once, as HF does
    }

    [Fact]
    public void StopAndResume_GivesTheSameModelFileAsAStraightRun()
    {
        Pretraining.Run(Options(Path("straight")), Gpt2);

        var first = Pretraining.Run(Options(Path("resumed"), stopAfter: 4), Gpt2);
        Assert.False(first.Completed);
        Assert.False(File.Exists(Path("resumed/model.safetensors")));
        Assert.EndsWith("checkpoint-000004", first.Checkpoint);

        var second = Pretraining.Run(Options(Path("resumed"), resume: Path("resumed/checkpoints")), Gpt2);
        Assert.True(second.Completed);
        Assert.Equal(File.ReadAllBytes(Path("straight/model.safetensors")), File.ReadAllBytes(Path("resumed/model.safetensors")));
        Assert.Equal(File.ReadAllText(Path("straight/training_log.jsonl")), File.ReadAllText(Path("resumed/training_log.jsonl")));
    }

    [Fact]
    public void Bf16Save_StoresBf16AndSaysSoInTheConfig()
    {
        Pretraining.Run(Options(Path("bf16")) with { SaveDType = DType.BF16, Trainer = new TrainerOptions { MaxSteps = 1 } }, Gpt2);
        using var file = SafetensorsFile.Open(Path("bf16/model.safetensors"));
        Assert.All(file.Keys, k => Assert.Equal(SafetensorsDType.BF16, file.Info(k).DType));
        Assert.Equal("bfloat16", HfConfig.Load(Path("bf16/config.json")).TorchDtype);
    }

    [Fact]
    public void ConfigVocabularySmallerThanTheTokenizer_Throws()
    {
        File.WriteAllText(Path("config.json"), """{"model_type": "gpt2", "vocab_size": 100, "n_positions": 32, "n_embd": 16, "n_layer": 1, "n_head": 2}""");
        var e = Assert.Throws<ArgumentException>(() => Pretraining.Run(Options(Path("bad")), Gpt2));
        Assert.Contains("vocab_size 100", e.Message);
    }
}
