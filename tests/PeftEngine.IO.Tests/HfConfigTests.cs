using PeftEngine.IO;

namespace PeftEngine.Tests;

public class HfConfigTests
{
    private const string Gpt2Json = """
        {
          "activation_function": "gelu_new",
          "architectures": ["GPT2LMHeadModel"],
          "attn_pdrop": 0.1,
          "bos_token_id": 50256,
          "embd_pdrop": 0.1,
          "eos_token_id": 50256,
          "initializer_range": 0.02,
          "layer_norm_epsilon": 1e-05,
          "model_type": "gpt2",
          "n_ctx": 1024,
          "n_embd": 768,
          "n_head": 12,
          "n_inner": null,
          "n_layer": 12,
          "n_positions": 1024,
          "resid_pdrop": 0.1,
          "summary_activation": null,
          "summary_first_dropout": 0.1,
          "summary_proj_to_labels": true,
          "summary_type": "cls_index",
          "summary_use_proj": true,
          "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
          "vocab_size": 50257
        }
        """;

    private const string Llama2Json = """
        {
          "architectures": ["LlamaForCausalLM"],
          "bos_token_id": 1,
          "eos_token_id": 2,
          "hidden_act": "silu",
          "hidden_size": 4096,
          "initializer_range": 0.02,
          "intermediate_size": 11008,
          "max_position_embeddings": 4096,
          "model_type": "llama",
          "num_attention_heads": 32,
          "num_hidden_layers": 32,
          "num_key_value_heads": 32,
          "pretraining_tp": 1,
          "rms_norm_eps": 1e-05,
          "rope_scaling": null,
          "tie_word_embeddings": false,
          "torch_dtype": "float16",
          "transformers_version": "4.31.0.dev0",
          "use_cache": true,
          "vocab_size": 32000
        }
        """;

    private const string Llama32Json = """
        {
          "architectures": ["LlamaForCausalLM"],
          "attention_bias": false,
          "attention_dropout": 0.0,
          "bos_token_id": 128000,
          "eos_token_id": [128001, 128008, 128009],
          "head_dim": 64,
          "hidden_act": "silu",
          "hidden_size": 2048,
          "initializer_range": 0.02,
          "intermediate_size": 8192,
          "max_position_embeddings": 131072,
          "mlp_bias": false,
          "model_type": "llama",
          "num_attention_heads": 32,
          "num_hidden_layers": 16,
          "num_key_value_heads": 8,
          "pretraining_tp": 1,
          "rms_norm_eps": 1e-05,
          "rope_scaling": {
            "factor": 32.0,
            "high_freq_factor": 4.0,
            "low_freq_factor": 1.0,
            "original_max_position_embeddings": 8192,
            "rope_type": "llama3"
          },
          "rope_theta": 500000.0,
          "tie_word_embeddings": true,
          "torch_dtype": "bfloat16",
          "transformers_version": "4.45.0.dev0",
          "use_cache": true,
          "vocab_size": 128256
        }
        """;

    private const string MistralJson = """
        {
          "architectures": ["MistralForCausalLM"],
          "bos_token_id": 1,
          "eos_token_id": 2,
          "hidden_act": "silu",
          "hidden_size": 4096,
          "initializer_range": 0.02,
          "intermediate_size": 14336,
          "max_position_embeddings": 32768,
          "model_type": "mistral",
          "num_attention_heads": 32,
          "num_hidden_layers": 32,
          "num_key_value_heads": 8,
          "rms_norm_eps": 1e-05,
          "rope_theta": 10000.0,
          "sliding_window": 4096,
          "tie_word_embeddings": false,
          "torch_dtype": "bfloat16",
          "transformers_version": "4.34.0.dev0",
          "use_cache": true,
          "vocab_size": 32000
        }
        """;

    private const string Qwen2Json = """
        {
          "architectures": ["Qwen2ForCausalLM"],
          "attention_dropout": 0.0,
          "bos_token_id": 151643,
          "eos_token_id": 151643,
          "hidden_act": "silu",
          "hidden_size": 896,
          "initializer_range": 0.02,
          "intermediate_size": 4864,
          "max_position_embeddings": 32768,
          "max_window_layers": 24,
          "model_type": "qwen2",
          "num_attention_heads": 14,
          "num_hidden_layers": 24,
          "num_key_value_heads": 2,
          "rms_norm_eps": 1e-06,
          "rope_theta": 1000000.0,
          "sliding_window": 32768,
          "tie_word_embeddings": true,
          "torch_dtype": "bfloat16",
          "transformers_version": "4.40.1",
          "use_cache": true,
          "use_sliding_window": false,
          "vocab_size": 151936
        }
        """;

    private const string BertJson = """
        {
          "architectures": ["BertForMaskedLM"],
          "attention_probs_dropout_prob": 0.1,
          "gradient_checkpointing": false,
          "hidden_act": "gelu",
          "hidden_dropout_prob": 0.1,
          "hidden_size": 768,
          "initializer_range": 0.02,
          "intermediate_size": 3072,
          "layer_norm_eps": 1e-12,
          "max_position_embeddings": 512,
          "model_type": "bert",
          "num_attention_heads": 12,
          "num_hidden_layers": 12,
          "pad_token_id": 0,
          "position_embedding_type": "absolute",
          "transformers_version": "4.6.0.dev0",
          "type_vocab_size": 2,
          "use_cache": true,
          "vocab_size": 30522
        }
        """;

    [Fact]
    public void Gpt2()
    {
        var c = Assert.IsType<Gpt2Config>(HfConfig.Parse(Gpt2Json));
        Assert.Equal((768, 12, 12, 50257, 1024), (c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.VocabSize, c.MaxPositionEmbeddings));
        Assert.Equal(3072, c.IntermediateSize); // n_inner null -> 4 * n_embd
        Assert.Equal(64, c.HeadDim);
        Assert.Equal("gelu_new", c.HiddenAct);
        Assert.Equal(1e-5, c.LayerNormEpsilon);
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal([50256], c.EosTokenIds);
        Assert.Equal(["GPT2LMHeadModel"], c.Architectures);
    }

    [Fact]
    public void Gpt2Defaults()
    {
        var c = Assert.IsType<Gpt2Config>(HfConfig.Parse("""{"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 2}"""));
        Assert.Equal(256, c.IntermediateSize);
        Assert.Equal(1e-5, c.LayerNormEpsilon);
        Assert.Equal("gelu_new", c.HiddenAct);
        Assert.Equal(50257, c.VocabSize);
        Assert.Equal(1024, c.MaxPositionEmbeddings);
        Assert.Equal(50256, c.BosTokenId);
    }

    [Fact]
    public void Llama2()
    {
        var c = Assert.IsType<LlamaConfig>(HfConfig.Parse(Llama2Json));
        Assert.Equal((4096, 32, 32, 32, 11008), (c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.IntermediateSize));
        Assert.Equal(128, c.HeadDim);
        Assert.Equal(1e-5, c.RmsNormEps);
        Assert.Null(c.RopeScaling);
        Assert.False(c.TieWordEmbeddings);
        Assert.Equal("float16", c.TorchDtype);
        Assert.False(c.AttentionBias);
    }

    [Fact]
    public void LlamaDefaults()
    {
        var c = Assert.IsType<LlamaConfig>(HfConfig.Parse(
            """{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 128, "vocab_size": 100}"""));
        Assert.Equal(4, c.NumKeyValueHeads);     // num_key_value_heads = num_attention_heads when absent
        Assert.Equal(16, c.HeadDim);             // hidden / heads
        Assert.Equal(1e-6, c.RmsNormEps);
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.False(c.TieWordEmbeddings);
        Assert.Equal(2048, c.MaxPositionEmbeddings);
        Assert.Equal("silu", c.HiddenAct);
        Assert.Equal(1, c.BosTokenId);
        Assert.Equal([2], c.EosTokenIds);
        Assert.Equal(1.0, c.RopeInverseFrequencies()[0]);
    }

    [Fact]
    public void Llama32WithLlama3RopeScaling()
    {
        var c = Assert.IsType<LlamaConfig>(HfConfig.Parse(Llama32Json));
        Assert.Equal(64, c.HeadDim);
        Assert.Equal(8, c.NumKeyValueHeads);
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal([128001, 128008, 128009], c.EosTokenIds);
        Assert.Equal(new RopeScaling("llama3", 32, 1, 4, 8192), c.RopeScaling);
        Assert.Equal(500000.0, c.RopeTheta);
        Assert.Equal(32, c.RopeInverseFrequencies().Length);
    }

    [Fact]
    public void Llama3FrequencyScalingMatchesHandComputedValues()
    {
        var s = new RopeScaling("llama3", 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 1000);
        // dim 4, theta 1e4: inv = [1, 0.01]; wavelengths 2*pi (kept, < 1000/4) and 628.3 (between 250 and 1000: blended
        // with smooth = (1000/628.3185 - 1)/3 = 0.197183).
        var inv = RopeScaling.InverseFrequencies(4, 10000, s);
        Assert.Equal(1.0, inv[0]);
        Assert.Equal(0.00297535251, inv[1], 10);
        // dim 6: the last frequency 1e4^(-2/3) has wavelength 2916 > 1000, so it is divided by 8.
        var inv6 = RopeScaling.InverseFrequencies(6, 10000, s);
        Assert.Equal(0.046415888336, inv6[1], 10);
        Assert.Equal(0.000269304336, inv6[2], 11);
        var linear = RopeScaling.InverseFrequencies(4, 10000, new RopeScaling("linear", 2));
        Assert.Equal([0.5, 0.005], linear);
    }

    [Fact]
    public void UnimplementedRopeScalingTypesAreRefusedNotIgnored()
    {
        // dynamic NTK equals the plain frequencies up to the original context; yarn and longrope change them (and
        // yarn the attention scale) at every length, so they must not fall back to the plain tables
        Assert.Equal(RopeScaling.InverseFrequencies(4, 10000, null), RopeScaling.InverseFrequencies(4, 10000, new RopeScaling("dynamic", 4)));
        var c = Assert.IsType<Qwen2Config>(HfConfig.Parse(
            """{"model_type": "qwen2", "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}"""));
        Assert.Equal("yarn", c.RopeScaling!.RopeType);
        var e = Assert.Throws<NotSupportedException>(() => c.RopeInverseFrequencies());
        Assert.Contains("yarn", e.Message);
        Assert.Throws<NotSupportedException>(() => RopeScaling.InverseFrequencies(4, 10000, new RopeScaling("longrope", 4)));
    }

    [Fact]
    public void Mistral()
    {
        var c = Assert.IsType<MistralConfig>(HfConfig.Parse(MistralJson));
        Assert.Equal(8, c.NumKeyValueHeads);
        Assert.Equal(4096, c.SlidingWindow);
        Assert.Equal(14336, c.IntermediateSize);
        Assert.Equal(128, c.HeadDim);
        var d = Assert.IsType<MistralConfig>(HfConfig.Parse("""{"model_type": "mistral", "hidden_size": 64, "num_attention_heads": 8, "sliding_window": null}"""));
        Assert.Equal(8, d.NumKeyValueHeads);    // MistralConfig's own default is 8
        Assert.Null(d.SlidingWindow);
        Assert.Equal(1e-6, d.RmsNormEps);
        Assert.Equal(131072, d.MaxPositionEmbeddings);
    }

    [Fact]
    public void Qwen2()
    {
        var c = Assert.IsType<Qwen2Config>(HfConfig.Parse(Qwen2Json));
        Assert.Equal((896, 14, 2, 64), (c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim));
        Assert.True(c.AttentionBias);           // q/k/v always carry a bias in Qwen2
        Assert.False(c.OutputProjectionBias);
        Assert.False(c.UseSlidingWindow);
        Assert.Equal(24, c.MaxWindowLayers);
        Assert.Equal(1_000_000.0, c.RopeTheta);
        Assert.True(c.TieWordEmbeddings);
        Assert.Null(c.PadTokenId);
    }

    [Fact]
    public void Bert()
    {
        var c = Assert.IsType<BertConfig>(HfConfig.Parse(BertJson));
        Assert.Equal((768, 12, 12, 3072, 512), (c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize, c.MaxPositionEmbeddings));
        Assert.Equal(2, c.TypeVocabSize);
        Assert.Equal(1e-12, c.LayerNormEps);
        Assert.Equal("gelu", c.HiddenAct);
        Assert.Equal(0, c.PadTokenId);
        var d = Assert.IsType<BertConfig>(HfConfig.Parse("""{"model_type": "bert"}"""));
        Assert.Equal((2, "gelu", 30522, "absolute"), (d.TypeVocabSize, d.HiddenAct, d.VocabSize, d.PositionEmbeddingType));
    }

    [Fact]
    public void LoadsFromAFolder()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), Qwen2Json);
        Assert.IsType<Qwen2Config>(HfConfig.Load(dir.Path));
    }

    [Fact]
    public void ErrorsNameTheFile()
    {
        var e = Assert.Throws<InvalidDataException>(() => HfConfig.Parse("""{"model_type": "t5"}""", "/m/config.json"));
        Assert.Contains("/m/config.json", e.Message);
        Assert.Contains("'t5'", e.Message);
        Assert.Contains("/m/config.json", Assert.Throws<InvalidDataException>(() => HfConfig.Parse("{}", "/m/config.json")).Message);
        var bad = Assert.Throws<InvalidDataException>(() => HfConfig.Parse("""{"model_type": "llama", "hidden_size": "big"}""", "c.json"));
        Assert.Contains("'hidden_size'", bad.Message);
        Assert.Contains("c.json", bad.Message);
        var rope = Assert.Throws<InvalidDataException>(() => HfConfig.Parse(
            """{"model_type": "llama", "rope_scaling": {"rope_type": "llama3", "factor": 8}}""", "c.json"));
        Assert.Contains("rope_scaling", rope.Message);
    }
}
