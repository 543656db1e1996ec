using PeftEngine.IO;
using PeftEngine.IO.Safetensors;
using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Models.Generation;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;
using PeftEngine.Peft;
using PeftEngine.Peft.Lora;
using PeftEngine.Peft.Prompt;
using PeftEngine.Peft.Serialization;
using PeftEngine.Peft.Tuners;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>Prompt tuning and prefix tuning beyond the conformance suite: HF interop, GQA sizing, the prefix as a
/// real key/value cache, padding, cached generation, TEXT init, the file format and training.</summary>
public class PromptLearningTests
{
    private static Module Create(string arch, ulong seed) => arch == "gpt2" ? TestGpt2.Create(new Generator(seed)) : TestLlama.Create(new Generator(seed));

    private static Tensor Ids(long[] values, int b) => Tensor.FromArray(values, b, values.Length / b);

    /// <summary>Rows of a (B, T, V) tensor at the (b, t) positions where <paramref name="keep"/> is true.</summary>
    private static double[] Positions(Tensor logits, Func<int, int, bool> keep)
    {
        int b = logits.Shape[0], t = logits.Shape[1], v = logits.Shape[2];
        var all = logits.ToDoubleArray();
        var kept = new List<double>();
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t; j++)
                if (keep(i, j)) kept.AddRange(all.AsSpan((i * t + j) * v, v).ToArray());
        return kept.ToArray();
    }

    [Theory]
    [InlineData("prefix")]
    [InlineData("prompt")]
    public void HfAdapterOnTinyLlamaGivesTheReferenceLogitsAndLossAndSavesBackIdentically(string kind)
    {
        string root = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        using var f = SafetensorsFile.Open(Path.Combine(root, "llama_prompt", "expected.safetensors"));
        using var ids = f.Load("ids");
        using var mask = f.Load("mask");
        using var labels = f.Load("labels");
        using var expected = f.Load("logits." + kind);
        using var expectedLoss = f.Load("loss." + kind);
        var model = LlamaModel.FromPretrained(Path.Combine(root, "llama_lora", "base"));
        string adapter = Path.Combine(root, "llama_prompt", kind);
        using var peft = PeftModel.FromPretrained(model, adapter);
        peft.Eval();
        ICausalLanguageModel lm = peft;
        var real = mask.ToArray<long>();
        int t = ids.Shape[1], n = expected.Shape[1] - t;   // prompt tuning returns its n virtual positions first
        bool Real(int b, int j) => j < n || real[b * t + j - n] == 1;   // padded queries are meaningless (AttentionMasks)
        using (GradMode.Disable())
        {
            using var logits = lm.Forward(ids, mask);
            Assert.Equal(expected.Shape, logits.Shape);
            TestData.AssertClose(Positions(expected, Real), Positions(logits, Real), 1e-4, 1e-4, kind + " logits");
            using var loss = lm.Loss(ids, labels, mask);
            Assert.Equal(expectedLoss.ToDoubleArray()[0], loss.Item(), 4);
        }
        var dir = TempDir();
        try
        {
            peft.SavePretrained(dir);
            Assert.Equal(File.ReadAllText(Path.Combine(adapter, "adapter_config.json")), File.ReadAllText(Path.Combine(dir, "adapter_config.json")));
            using var a = SafetensorsFile.Open(Path.Combine(adapter, "adapter_model.safetensors"));
            using var b = SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors"));
            Assert.Equal(["prompt_embeddings"], b.Keys);
            Assert.True(a.RawBytes("prompt_embeddings").SequenceEqual(b.RawBytes("prompt_embeddings")), "prompt_embeddings bytes differ");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void PrefixIsSizedPerKeyValueHeadUnderGroupedQueryAttention()
    {
        using var llama = PeftModel.Create(TestLlama.Create(new Generator(1)), new PrefixTuningConfig { NumVirtualTokens = 3, PrefixProjection = true });
        var c = (PrefixTuningConfig)llama.PeftConfigs["default"];
        // hidden 16, 4 query heads over 2 key/value heads: token_dim = 16 / 4 · 2 = 8, heads = 2 (PEFT's GQA rule)
        Assert.Equal((8, 2, 2, 8, 1), (c.TokenDim!.Value, c.NumAttentionHeads!.Value, c.NumLayers!.Value, c.EncoderHiddenSize!.Value, c.NumTransformerSubmodules!.Value));
        var shapes = llama.NamedParameters().Where(np => np.Name.StartsWith("prompt_encoder.", StringComparison.Ordinal))
            .ToDictionary(np => np.Name, np => np.Parameter.Shape);
        Assert.Equal(new Shape(3, 8), shapes["prompt_encoder.default.embedding.weight"]);
        Assert.Equal(new Shape(8, 8), shapes["prompt_encoder.default.transform.0.weight"]);
        Assert.Equal(new Shape(2 * 2 * 8, 8), shapes["prompt_encoder.default.transform.2.weight"]);
        // a loaded config is left as it is (the rule is applied again on every load, as in PEFT)
        using var reloaded = PeftModel.Create(TestLlama.Create(new Generator(1)), c with { InferenceMode = true });
        Assert.Equal(new Shape(3, 32), reloaded.NamedParameters().Single(np => np.Name.StartsWith("prompt_encoder.", StringComparison.Ordinal)).Parameter.Shape);
        using var gpt2 = PeftModel.Create(TestGpt2.Create(new Generator(1)), new PrefixTuningConfig { NumVirtualTokens = 3 });
        var g = (PrefixTuningConfig)gpt2.PeftConfigs["default"];
        Assert.Equal((16, 2), (g.TokenDim!.Value, g.NumAttentionHeads!.Value));
        var e = Assert.Throws<ArgumentException>(() => PeftModel.Create(TestLlama.Create(new Generator(1)), new PrefixTuningConfig { NumVirtualTokens = 3, NumLayers = 5 }));
        Assert.Contains("num_layers 5", e.Message);
    }

    /// <summary>The keys and values the base model caches for <paramref name="tokens"/>, in prefix tuning's flat
    /// layout (P, L·2·Hkv·D): row p, column ((l·2 + kv)·Hkv + h)·D + d.</summary>
    private static float[] CachedKeysValues(ICausalLanguageModel model, Tensor tokens, int layers, int heads, int d)
    {
        int p = tokens.Shape[1];
        using var _ = GradMode.Disable();
        using var cache = model.CreateCache(1, p);
        using (model.Forward(tokens, null, cache)) { }
        var flat = new float[p * layers * 2 * heads * d];
        for (int l = 0; l < layers; l++)
        {
            using var none = Tensor.Zeros(new Shape(1, heads, 0, d));
            var (k, v) = cache.Layers[l].Append(none, none);   // views of everything cached: (1, Hkv, P, D)
            using (k) using (v)
            {
                var ks = Ops.Contiguous(k).ToFloatArray();
                var vs = Ops.Contiguous(v).ToFloatArray();
                for (int h = 0; h < heads; h++)
                    for (int i = 0; i < p; i++)
                        for (int j = 0; j < d; j++)
                        {
                            flat[i * layers * 2 * heads * d + ((l * 2 + 0) * heads + h) * d + j] = ks[(h * p + i) * d + j];
                            flat[i * layers * 2 * heads * d + ((l * 2 + 1) * heads + h) * d + j] = vs[(h * p + i) * d + j];
                        }
            }
        }
        return flat;
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void APrefixOfTheBaseModelsOwnKeysAndValuesEqualsPrependingTheTokens(string arch)
    {
        // If the prefix holds exactly what the model caches for P real tokens (keys already rotated at positions
        // 0 .. P-1), the adapted model on x must equal the base model on [tokens; x] at x's positions: this pins the
        // flat layout, the positions P .. P+T-1, no rotary on the prefix, GQA sizing and the always-visible columns.
        var model = Create(arch, 7);
        model.Eval();
        var lm = (ICausalLanguageModel)model;
        using var tokens = Ids([3, 17, 9], 1);
        using var x = Ids([5, 11, 2, 30], 1);
        var geometry = ((IPromptableCausalLanguageModel)model).Geometry;
        var flat = CachedKeysValues(lm, tokens, geometry.NumLayers, geometry.NumKeyValueHeads, geometry.HeadDim);
        double[] expected;
        using (GradMode.Disable())
        using (var joined = Ops.Cat([tokens, x], 1))
        using (var all = lm.Forward(joined))
        using (var tail = Ops.Narrow(all, 1, 3, 4))
        using (var c = Ops.Contiguous(tail))
            expected = c.ToDoubleArray();
        using var peft = PeftModel.Create(model, new PrefixTuningConfig { NumVirtualTokens = 3 });
        var table = peft.NamedParameters().Single(np => np.Name == "prompt_encoder.default.embedding.weight").Parameter;
        using (GradMode.Disable())
        using (var values = Tensor.FromArray(flat, 3, flat.Length / 3))
            Ops.CopyInPlace(table, values);
        TestData.AssertClose(expected, Run(peft, x), 1e-5, 1e-4, arch + " prefix = cached tokens");
        using (peft.DisableAdapter()) AssertDiffers(expected, Run(peft, x), 1e-3, "without the prefix");
    }

    [Theory]
    [InlineData("llama", "prefix")]
    [InlineData("llama", "prompt")]
    [InlineData("gpt2", "prefix")]
    public void PaddingIsMaskedAndThePromptIsAlwaysVisible(string arch, string kind)
    {
        PeftConfig config = kind == "prefix" ? new PrefixTuningConfig { NumVirtualTokens = 2 } : new PromptTuningConfig { NumVirtualTokens = 2 };
        using var peft = PeftModel.Create(Create(arch, 3), config, "default", new Generator(4));
        peft.Eval();
        ICausalLanguageModel lm = peft;
        int n = kind == "prompt" ? 2 : 0;
        using var _ = GradMode.Disable();
        // right padding: the real positions equal the unpadded sequence
        using var plain = Ids([4, 8, 15], 1);
        using var padded = Ids([4, 8, 15, 16, 23], 1);
        using var mask = Tensor.FromArray(new long[] { 1, 1, 1, 0, 0 }, 1, 5);
        using var alone = lm.Forward(plain);
        using var withPad = lm.Forward(padded, mask);
        TestData.AssertClose(alone.ToDoubleArray(), Positions(withPad, (_, j) => j < n + 3), 1e-5, 1e-4, "right padding");
        // left padding: what the padded ids are does not reach the real positions
        using var leftA = Ids([1, 2, 4, 8, 15], 1);
        using var leftB = Ids([33, 7, 4, 8, 15], 1);
        using var leftMask = Tensor.FromArray(new long[] { 0, 0, 1, 1, 1 }, 1, 5);
        using var outA = lm.Forward(leftA, leftMask);
        using var outB = lm.Forward(leftB, leftMask);
        bool Real(int b, int j) => j < n || j - n >= 2;
        TestData.AssertClose(Positions(outA, Real), Positions(outB, Real), 1e-6, 1e-5, "left padding");
        // the mask covers the caller's positions only: the prompt's columns are added in front
        using var wrong = Tensor.FromArray(new long[] { 1, 1, 1 }, 1, 3);
        Assert.ThrowsAny<ArgumentException>(() => lm.Forward(padded, wrong));
    }

    [Theory]
    [InlineData("gpt2", "prefix")]
    [InlineData("gpt2", "prompt")]
    [InlineData("llama", "prefix")]
    [InlineData("llama", "prompt")]
    public void CachedGenerationEqualsGreedyDecodingWithoutACache(string arch, string kind)
    {
        PeftConfig config = kind == "prefix" ? new PrefixTuningConfig { NumVirtualTokens = 3 } : new PromptTuningConfig { NumVirtualTokens = 3 };
        using var peft = PeftModel.Create(Create(arch, 5), config, "default", new Generator(6));
        peft.Eval();
        ICausalLanguageModel lm = peft;
        using var prompt = Ids([7, 1, 22, 13, 0, 0, 9, 14], 2);
        var maskRows = new List<long>[] { new() { 1, 1, 1, 1 }, new() { 0, 0, 1, 1 } };
        using var mask = Tensor.FromArray(maskRows.SelectMany(r => r).ToArray(), 2, 4);
        var result = TextGeneration.Generate(lm, prompt, new GenerationConfig { MaxNewTokens = 6 }, mask);
        Assert.Equal(32 - 3, lm.MaxPositions);   // both tiny models take 32 positions; the prompt holds 3 of them
        var rows = new List<long>[] { new() { 7, 1, 22, 13 }, new() { 0, 0, 9, 14 } };
        using var _ = GradMode.Disable();
        for (int step = 0; step < 6; step++)
        {
            using var seq = Tensor.FromArray(rows.SelectMany(r => r).ToArray(), 2, rows[0].Count);
            using var m = Tensor.FromArray(maskRows.SelectMany(r => r).ToArray(), 2, rows[0].Count);
            using var logits = lm.Forward(seq, m);   // no cache: the whole sequence each step
            using var last = Ops.Select(logits, 1, logits.Shape[1] - 1);
            using var next = Ops.ArgMax(last, 1);
            var chosen = next.ToArray<long>();
            for (int r = 0; r < 2; r++) { rows[r].Add(chosen[r]); maskRows[r].Add(1); }
        }
        Assert.Equal(rows[0], result.Sequences[0]);
        Assert.Equal(rows[1], result.Sequences[1]);
    }

    private static string TinyLlamaFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", "tiny-llama");
            if (File.Exists(Path.Combine(candidate, "tokenizer.json"))) return candidate;
        }
        throw new DirectoryNotFoundException("models/tiny-llama with tokenizer.json was not found above the test folder");
    }

    [Fact]
    public void TextInitCopiesTheEmbeddingsOfTheTextTokensAndSampleVocabCopiesVocabularyRows()
    {
        string folder = TinyLlamaFolder();
        var config = (RopeDecoderConfig)HfConfig.Parse(
            "{\"model_type\":\"llama\",\"vocab_size\":4096,\"hidden_size\":16,\"intermediate_size\":24,\"num_hidden_layers\":1,"
            + "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"max_position_embeddings\":64,\"tie_word_embeddings\":false}");
        const string text = "Classify the sentiment:";
        var tokens = TokenizerJsonLoader.Load(Path.Combine(folder, "tokenizer.json")).Encode(text);
        int n = tokens.Length + 3;                          // longer than the text: the ids repeat
        var model = new LlamaModel(config, generator: new Generator(2));
        var table = model.Transformer.EmbedTokens.Weight.Data.ToFloatArray();
        using var peft = PeftModel.Create(model, new PromptTuningConfig
        {
            NumVirtualTokens = n, PromptTuningInit = PromptTuningInit.Text, PromptTuningInitText = text, TokenizerNameOrPath = folder,
        });
        var rows = peft.NamedParameters().Single(np => np.Name == "prompt_encoder.default.embedding.weight").Parameter.Data.ToFloatArray();
        for (int i = 0; i < n; i++)
            Assert.True(rows.AsSpan(i * 16, 16).SequenceEqual(table.AsSpan(tokens[i % tokens.Length] * 16, 16)), $"virtual token {i} is not the embedding of text token {i % tokens.Length}");

        peft.AddAdapter("sampled", new PromptTuningConfig { NumVirtualTokens = 5, PromptTuningInit = PromptTuningInit.SampleVocab }, new Generator(3));
        var sampled = peft.NamedParameters().Single(np => np.Name == "prompt_encoder.sampled.embedding.weight").Parameter.Data.ToFloatArray();
        for (int i = 0; i < 5; i++)
        {
            var row = sampled.AsSpan(i * 16, 16).ToArray();
            Assert.Contains(Enumerable.Range(0, 4096), v => table.AsSpan(v * 16, 16).SequenceEqual(row));
        }
        Assert.Throws<ArgumentException>(() => peft.AddAdapter("bad", new PromptTuningConfig { NumVirtualTokens = 2, PromptTuningInit = PromptTuningInit.Text, PromptTuningInitText = text }));
    }

    [Fact]
    public void AProjectedPrefixIsSavedComputedAndReloadsForInferenceOnly()
    {
        var dir = TempDir();
        try
        {
            using var x = TestLlama.Input();
            double[] expected;
            float[] computed;
            using (var peft = PeftModel.Create(TestLlama.Create(new Generator(11)), new PrefixTuningConfig { NumVirtualTokens = 3, PrefixProjection = true, EncoderHiddenSize = 6 }, "default", new Generator(12)))
            {
                using var opt = new AdamW(peft.Parameters().Where(p => p.RequiresGrad), 1e-2);
                TrainLanguageModel(peft, opt, x, steps: 2);
                peft.Eval();
                expected = Run(peft, x);
                // the MLP by hand: tanh(E W1ᵀ + b1) W2ᵀ + b2
                var p = peft.NamedParameters().ToDictionary(np => np.Name, np => np.Parameter.Data);
                using (GradMode.Disable())
                using (var h = Ops.Linear(p["prompt_encoder.default.embedding.weight"], p["prompt_encoder.default.transform.0.weight"], p["prompt_encoder.default.transform.0.bias"]))
                using (var a = Ops.Tanh(h))
                using (var y = Ops.Linear(a, p["prompt_encoder.default.transform.2.weight"], p["prompt_encoder.default.transform.2.bias"]))
                    computed = y.ToFloatArray();
                peft.SavePretrained(dir);
            }
            using (var f = SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors")))
            {
                Assert.Equal(["prompt_embeddings"], f.Keys);
                using var saved = f.Load("prompt_embeddings");
                Assert.Equal(new Shape(3, 2 * 2 * 8), saved.Shape);
                TestData.AssertClose(computed.Select(v => (double)v).ToArray(), saved.ToDoubleArray(), 1e-6, 1e-5, "saved = computed prefix");
            }
            var config = (PrefixTuningConfig)AdapterConfigJson.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json")));
            Assert.Equal((true, 6, 8, 2, 3), (config.PrefixProjection, config.EncoderHiddenSize!.Value, config.TokenDim!.Value, config.NumAttentionHeads!.Value, config.NumVirtualTokens));
            using (var loaded = PeftModel.FromPretrained(TestLlama.Create(new Generator(11)), dir))
                TestData.AssertClose(expected, Run(loaded, x), 1e-6, 1e-5, "reloaded for inference");
            // trainable, the encoder has its MLP again and the computed prefix does not fit its table (as in HF)
            var e = Assert.Throws<InvalidDataException>(() => PeftModel.FromPretrained(TestLlama.Create(new Generator(11)), dir, isTrainable: true));
            Assert.Contains("size mismatch for prompt_embeddings", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("prompt")]
    [InlineData("prefix")]
    [InlineData("prefix-projection")]
    public void TrainingLowersTheLossOnTinyLlama(string kind)
    {
        PeftConfig config = kind switch
        {
            "prompt" => new PromptTuningConfig { NumVirtualTokens = 4, PromptTuningInit = PromptTuningInit.SampleVocab },
            "prefix" => new PrefixTuningConfig { NumVirtualTokens = 4 },
            _ => new PrefixTuningConfig { NumVirtualTokens = 4, PrefixProjection = true },
        };
        using var peft = PeftModel.Create(TestLlama.Create(new Generator(21)), config, "default", new Generator(22));
        using var ids = TestLlama.Input();
        using var opt = new AdamW(peft.Parameters().Where(p => p.RequiresGrad), kind == "prompt" ? 3e-2 : 1e-2);
        var (first, last) = TrainLanguageModel(peft, opt, ids, steps: 15);
        Assert.True(last < first - 0.1, $"{kind}: loss {first:F4} -> {last:F4}");
        Assert.All(peft.NamedParameters(), np =>
        {
            if (np.Name.StartsWith("prompt_encoder.", StringComparison.Ordinal)) Assert.NotNull(np.Parameter.Grad);
            else Assert.Null(np.Parameter.Grad);
        });
    }

    [Fact]
    public void ThePrefixAndTheInputEmbeddingsAreDifferentiable()
    {
        var model = new LlamaModel(TestLlama.Config, DType.F64, new Generator(31));
        model.Eval();
        using var ids = Ids([3, 9, 27], 1);
        var inputs = new[]
        {
            TestData.Param(1, 1, 2, 2, 4), TestData.Param(2, 1, 2, 2, 4), TestData.Param(3, 1, 2, 2, 4), TestData.Param(4, 1, 2, 2, 4),
            TestData.Param(5, 1, 3, 16),
        };
        TestData.AssertGradients(xs =>
        {
            var prefix = new AttentionPrefix([(xs[0], xs[1]), (xs[2], xs[3])]);
            using var logits = model.Forward(new DecoderInputs { InputsEmbeds = xs[4], Prefix = prefix });
            return Ops.Sum(logits);
        }, inputs, 1e-5);
        foreach (var t in inputs) t.Dispose();
    }

    [Fact]
    public void LoraOnTheTokenEmbeddingOfTinyLlamaAndGpt2()
    {
        using var x = TestLlama.Input();
        var baseOut = Run(TestLlama.Create(new Generator(41)), x);
        using var peft = PeftModel.Create(TestLlama.Create(new Generator(41)), new LoraConfig { TargetModules = TargetModules.Of("embed_tokens"), R = 2, InitLoraWeights = LoraInit.Random });
        Assert.IsType<LoraEmbedding>(peft.Model.GetSubmodule("model.embed_tokens"));
        var adapted = Run(peft, x);
        AssertDiffers(baseOut, adapted, 1e-4, "LoRA on embed_tokens");
        using (var cache = ((ICausalLanguageModel)peft).CreateCache(3, 8)) Assert.Equal(0, cache.Length);
        peft.MergeAdapter();
        TestData.AssertClose(adapted, Run(peft, x), 1e-4, 1e-4, "merged");
        peft.UnmergeAdapter();
        using var opt = new AdamW(peft.Parameters().Where(p => p.RequiresGrad), 1e-2);
        var (first, last) = TrainLanguageModel(peft, opt, x, steps: 5);
        Assert.True(last < first, $"loss {first:F4} -> {last:F4}");

        using var g = TestGpt2.Input();
        var gptBase = Run(TestGpt2.Create(new Generator(42)), g);
        using var gpt = PeftModel.Create(TestGpt2.Create(new Generator(42)), new LoraConfig { TargetModules = TargetModules.Of("wte"), R = 2, InitLoraWeights = LoraInit.Random });
        AssertDiffers(gptBase, Run(gpt, g), 1e-4, "LoRA on wte");
        using (gpt.DisableAdapter()) TestData.AssertClose(gptBase, Run(gpt, g), 1e-6, 1e-6, "disabled");
    }

    [Fact]
    public void PromptAdaptersAreActiveOneAtATimeAndDoNotMixWithOtherMethods()
    {
        using var peft = PeftModel.Create(TestLlama.Create(new Generator(51)), new PrefixTuningConfig { NumVirtualTokens = 2 });
        peft.AddAdapter("second", new PrefixTuningConfig { NumVirtualTokens = 3 });
        Assert.Throws<NotSupportedException>(() => peft.SetAdapter("default", "second"));
        var e = Assert.Throws<ArgumentException>(() => peft.AddAdapter("tuning", new PromptTuningConfig { NumVirtualTokens = 2 }));
        Assert.Equal("Cannot combine adapters with different peft types. Found PREFIX_TUNING and PROMPT_TUNING.", e.Message);
        e = Assert.Throws<ArgumentException>(() => peft.AddAdapter("lora", new LoraConfig { TargetModules = TargetModules.Of("q_proj") }));
        Assert.Equal("Cannot combine adapters with different peft types. Found PREFIX_TUNING and LORA.", e.Message);
        using var lora = PeftModel.Create(TestLlama.Create(new Generator(51)), new LoraConfig { TargetModules = TargetModules.Of("q_proj") });
        Assert.Throws<ArgumentException>(() => lora.AddAdapter("p", new PrefixTuningConfig { NumVirtualTokens = 2 }));
    }
}
