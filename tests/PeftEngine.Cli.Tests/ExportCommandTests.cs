using System.Text.Json;
using PeftEngine.Cli;
using PeftEngine.Cli.Train;
using PeftEngine.IO;
using PeftEngine.IO.Gguf;
using PeftEngine.IO.Safetensors;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Training;
using PeftEngine.Peft;

namespace PeftEngine.Tests;

[Collection("console")]
public class ExportCommandTests(TinyModelFolder tiny) : IClassFixture<TinyModelFolder>
{
    private static readonly (string Hf, string Gguf)[] LayerNames =
    [
        ("input_layernorm.weight", "attn_norm.weight"), ("post_attention_layernorm.weight", "ffn_norm.weight"),
        ("self_attn.q_proj.weight", "attn_q.weight"), ("self_attn.k_proj.weight", "attn_k.weight"),
        ("self_attn.v_proj.weight", "attn_v.weight"), ("self_attn.o_proj.weight", "attn_output.weight"),
        ("mlp.gate_proj.weight", "ffn_gate.weight"), ("mlp.up_proj.weight", "ffn_up.weight"), ("mlp.down_proj.weight", "ffn_down.weight"),
    ];

    /// <summary>The tiny test model written as llama.cpp's converter would: metadata, permuted q/k rows, and the
    /// byte-level BPE vocabulary of its tokenizer.json as tokenizer.ggml.* arrays.</summary>
    private string WriteGguf()
    {
        string path = Path.Combine(tiny.Root, "tiny.gguf");
        if (File.Exists(path)) return path;
        var config = (RopeDecoderConfig)HfConfig.Load(Path.Combine(tiny.ModelDir, "config.json"));
        var w = new GgufWriter();
        LlamaGgufMetadata.Write(w, config);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(tiny.ModelDir, "tokenizer.json")));
        var model = json.RootElement.GetProperty("model");
        var tokens = new string[config.VocabSize];
        foreach (var p in model.GetProperty("vocab").EnumerateObject()) tokens[p.Value.GetInt32()] = p.Name;
        var special = json.RootElement.GetProperty("added_tokens").EnumerateArray().Select(t => t.GetProperty("id").GetInt32()).ToHashSet();
        w.AddString("tokenizer.ggml.model", "gpt2");
        w.AddString("tokenizer.ggml.pre", "gpt-2");
        w.AddArray("tokenizer.ggml.tokens", GgufValueType.String, tokens);
        w.AddArray("tokenizer.ggml.token_type", GgufValueType.Int32, tokens.Select((_, i) => special.Contains(i) ? 3 : 1));
        w.AddArray("tokenizer.ggml.merges", GgufValueType.String, model.GetProperty("merges").EnumerateArray().Select(m => m.GetString()!));
        w.AddUInt32("tokenizer.ggml.bos_token_id", 0);
        w.AddUInt32("tokenizer.ggml.eos_token_id", 0);
        w.AddUInt32("tokenizer.ggml.padding_token_id", 1);
        w.AddString("tokenizer.chat_template", "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}");

        var owned = new List<Tensor>();
        using var st = SafetensorsFile.Open(Path.Combine(tiny.ModelDir, "model.safetensors"));
        void Add(string gguf, string hf, int? heads = null)
        {
            var t = st.Load(hf);
            owned.Add(t);
            if (heads is int h) { t = LlamaQkPermutation.Apply(t, h); owned.Add(t); }
            w.AddTensor(gguf, t);
        }
        Add("token_embd.weight", "model.embed_tokens.weight");
        Add("output_norm.weight", "model.norm.weight");
        for (int i = 0; i < config.NumHiddenLayers; i++)
            foreach (var (hf, gguf) in LayerNames)
                Add($"blk.{i}.{gguf}", $"model.layers.{i}.{hf}",
                    gguf.StartsWith("attn_q.") ? config.NumAttentionHeads : gguf.StartsWith("attn_k.") ? config.NumKeyValueHeads : null);
        w.Save(path);
        foreach (var t in owned) t.Dispose();
        return path;
    }

    [Fact]
    public void GgufExportsToAFolderWithTheSameLogitsAndTokens()
    {
        string gguf = WriteGguf();
        string output = Path.Combine(tiny.Root, "exported");
        Assert.Equal(0, CommandLine.Run(["export", "--model", gguf, "--out", output]));

        using var ids = Tensor.FromArray(new long[] { 0, 5, 17, 300, 42, 9, 1000, 4095 }, 1, 8);
        using var fromGguf = LlamaModel.FromGguf(gguf);
        using var exported = LlamaModel.FromPretrained(output);
        using var original = LlamaModel.FromPretrained(tiny.ModelDir);
        using var want = fromGguf.Forward(ids);
        using var got = exported.Forward(ids);
        Assert.Equal(want.ToFloatArray(), got.ToFloatArray());                     // f32 weights written as they were read
        using var source = original.Forward(ids);
        TestData.AssertClose(source, got, 1e-6, 1e-5);                             // and the model the GGUF was made from

        var originalTokenizer = TokenizerJsonLoader.Load(Path.Combine(tiny.ModelDir, "tokenizer.json"));
        var exportedTokenizer = TokenizerJsonLoader.Load(Path.Combine(output, "tokenizer.json"));
        const string text = "<|im_start|>user\nWhere does Anne live? She lives in Derby, 1813.<|im_end|>\n";
        Assert.Equal(originalTokenizer.Encode(text), exportedTokenizer.Encode(text));
        Assert.Equal(originalTokenizer.Encode(text, addSpecialTokens: false), exportedTokenizer.Encode(text, addSpecialTokens: false));
        Assert.Equal(0, exportedTokenizer.EosTokenId);
        Assert.Equal("chatml", ChatCommand.DetectTemplate(output));                 // the GGUF's chat template came along
        var config = (RopeDecoderConfig)HfConfig.Load(Path.Combine(output, "config.json"));
        Assert.Equal((original.Config.NumKeyValueHeads, original.Config.HeadDim, original.Config.TieWordEmbeddings), (config.NumKeyValueHeads, config.HeadDim, config.TieWordEmbeddings));
    }

    [Fact]
    public void ConvertOfAGgufWritesWhatExportWrites()
    {
        string gguf = WriteGguf();
        string exported = Path.Combine(tiny.Root, "exported-for-convert"), converted = Path.Combine(tiny.Root, "converted");
        Assert.Equal(0, CommandLine.Run(["export", "--model", gguf, "--out", exported]));
        Assert.Equal(0, CommandLine.Run(["convert", gguf, "--out", converted]));
        foreach (var name in new[] { "config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "tokenizer_config.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(exported, name)), File.ReadAllBytes(Path.Combine(converted, name)));
    }

    [Fact]
    public void MergedExportInBf16IsTheF32MergeRounded()
    {
        string output = Path.Combine(tiny.Root, "run-export");
        if (!Directory.Exists(Path.Combine(output, "adapter")))
            new FineTuneJob(new FineTuneOptions
            {
                Model = tiny.ModelDir, Steps = 3, Batch = 4, SeqLen = 160, Lr = 2e-2, Rank = 4, EvalExamples = 1, Samples = 0, Output = output,
            }, new RecordingReporter()).Run();
        string adapter = Path.Combine(output, "adapter");
        string f32 = Path.Combine(tiny.Root, "merged-f32"), bf16 = Path.Combine(tiny.Root, "merged-bf16");
        Assert.Equal(0, CommandLine.Run(["export", "--model", tiny.ModelDir, "--adapter", adapter, "--out", f32]));
        Assert.Equal(0, CommandLine.Run(["export", "--model", tiny.ModelDir, "--adapter", adapter, "--dtype", "bf16", "--out", bf16]));

        using (var merged = SafetensorsFile.Open(Path.Combine(f32, "model.safetensors")))
        using (var rounded = SafetensorsFile.Open(Path.Combine(bf16, "model.safetensors")))
        using (var plain = SafetensorsFile.Open(Path.Combine(tiny.ModelDir, "model.safetensors")))
        {
            Assert.Equal(merged.Keys.Order(), rounded.Keys.Order());
            foreach (var key in merged.Keys)
            {
                using var a = merged.Load(key);
                using var b = rounded.Load(key, DType.BF16);
                Assert.Equal(DType.BF16, b.DType);
                using var cast = Ops.Cast(a, DType.BF16);
                Assert.Equal(cast.ToFloatArray(), b.ToFloatArray());
            }
            using var q = merged.Load("model.layers.0.self_attn.q_proj.weight");
            using var q0 = plain.Load("model.layers.0.self_attn.q_proj.weight");
            Assert.NotEqual(q0.ToFloatArray(), q.ToFloatArray());                     // the adapter was merged in
        }
        // the f32 export is base + adapter
        using var ids = Tensor.FromArray(new long[] { 5, 17, 300, 42 }, 1, 4);
        using var baseModel = LlamaModel.FromPretrained(tiny.ModelDir);
        using var peft = PeftModel.FromPretrained(baseModel, adapter);
        peft.Eval();
        using var expected = ((ICausalLanguageModel)peft).Forward(ids);
        using var exported = LlamaModel.FromPretrained(f32);
        using var actual = exported.Forward(ids);
        TestData.AssertClose(expected, actual, 1e-5, 1e-4);
        Assert.Equal(2, CommandLine.Run(["export", "--model", tiny.ModelDir, "--out", tiny.ModelDir]));
        Assert.Equal(2, CommandLine.Run(["export", "--model", tiny.ModelDir, "--dtype", "f8", "--out", Path.Combine(tiny.Root, "x")]));
    }
}
