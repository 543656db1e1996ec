using PeftEngine.IO.Datasets;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Training;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Tuners;

namespace PeftEngine.Tests;

/// <summary>The library example of README.md, run on the tiny test model (keep the two in step).</summary>
public class ReadmeExampleTests(TinyModelFolder tiny) : IClassFixture<TinyModelFolder>
{
    [Fact]
    public void TheReadmeLibraryExampleRunsAndSavesAnAdapter()
    {
        string dir = tiny.ModelDir, output = Path.Combine(tiny.Root, "readme-adapter");

        // --- README example (with "models/tiny-llama" as dir) ---
        var model = LlamaModel.FromPretrained(dir);
        var tokenizer = TokenizerJsonLoader.Load(Path.Combine(dir, "tokenizer.json"));
        using var peft = PeftModel.ForCausalLm(model, new LoraConfig { R = 16, LoraAlpha = 32, TargetModules = TargetModules.AllLinear });
        var format = new SupervisedFormatter(text => tokenizer.Encode(text, false)) { EndOfResponseId = tokenizer.EosTokenId, MaxLength = 160 };
        var examples = format.FormatAll(JsonlDataset.Read(Path.Combine(dir, "data", "qa-train.jsonl")));
        using var trainer = new Trainer(peft, new TrainerOptions { MaxSteps = 3, LearningRate = 3e-3 }, new BatchLoader(examples, 8, 1, seed: 0));
        trainer.Train();
        peft.SavePretrained(output);
        // --- end of the example ---

        Assert.Equal(3, trainer.Step);
        Assert.True(File.Exists(Path.Combine(output, "adapter_model.safetensors")));
        Assert.Contains("\"peft_type\": \"LORA\"", File.ReadAllText(Path.Combine(output, "adapter_config.json")));
    }
}
