using PeftEngine.IO;
using PeftEngine.Models;
using PeftEngine.Nn;

namespace PeftEngine.Tests;

/// <summary>HF PEFT's test MLP: lin0 = Linear(10, 20) -> ReLU -> Dropout(0.5) -> lin1 = Linear(20, 2) -> LogSoftmax.</summary>
internal sealed class TestMlp : Module
{
    public TestMlp(Generator generator)
    {
        RegisterModule("lin0", new Linear(10, 20, generator: generator));
        RegisterModule("relu", new Activation(ActivationKind.Relu));
        RegisterModule("drop", new Dropout(0.5, generator));
        RegisterModule("lin1", new Linear(20, 2, generator: generator));
    }

    public override Tensor Forward(Tensor x)
    {
        using var h = GetChild("lin0").Forward(x);
        using var a = GetChild("relu").Forward(h);
        using var d = GetChild("drop").Forward(a);
        using var o = GetChild("lin1").Forward(d);
        return Ops.LogSoftmax(o, -1);
    }

    /// <summary>HF's input: arange(90).view(9, 10), scaled down so the log-softmax is not saturated.</summary>
    public static Tensor Input() => Tensor.FromArray(Enumerable.Range(0, 90).Select(i => i / 30f).ToArray(), 9, 10);
}

/// <summary>HF's ModelEmbConv1D idea with our layers: emb = Embedding(100, 5) -> lin0 = Linear(5, 10) -> mean over
/// positions -> lin1 = Linear(10, 2).</summary>
internal sealed class TestEmbModel : Module
{
    public TestEmbModel(Generator generator)
    {
        RegisterModule("emb", new Embedding(100, 5, generator: generator));
        RegisterModule("lin0", new Linear(5, 10, generator: generator));
        RegisterModule("lin1", new Linear(10, 2, generator: generator));
    }

    public override Tensor Forward(Tensor ids)
    {
        using var e = GetChild("emb").Forward(ids);          // (B, T) -> (B, T, 5)
        using var h = GetChild("lin0").Forward(e);           // (B, T, 10)
        using var m = Ops.Mean(h, [1]);                      // (B, 10)
        return GetChild("lin1").Forward(m);                  // (B, 2)
    }

    public static Tensor Input()
    {
        var ids = new long[9 * 4];
        for (int i = 0; i < ids.Length; i++) ids[i] = (i * 37 + 11) % 100;
        return Tensor.FromArray(ids, 9, 4);
    }
}

/// <summary>HF's ModelConv2D: conv = Conv2d(5, 10, 3) on (N, 5, 3, 3) inputs -> flatten -> lin = Linear(10, 2).</summary>
internal sealed class TestConvModel : Module
{
    public TestConvModel(Generator generator)
    {
        RegisterModule("conv", new Conv2d(5, 10, (3, 3), padding: (1, 1), generator: generator));
        RegisterModule("lin", new Linear(90, 2, generator: generator));
    }

    public override Tensor Forward(Tensor x)
    {
        using var c = GetChild("conv").Forward(x);               // (N, 5, 3, 3) -> (N, 10, 3, 3)
        using var f = Ops.Reshape(c, c.Shape[0], 90);           // -> (N, 90)
        return GetChild("lin").Forward(f);
    }

    public static Tensor Input() => Tensor.FromArray(Enumerable.Range(0, 6 * 45).Select(i => MathF.Sin(i * 0.37f)).ToArray(), 6, 5, 3, 3);
}

/// <summary>Tiny GPT-2 (vocabulary 50, 2 layers, width 16), its weights scaled up so attention is not uniform.</summary>
internal static class TestGpt2
{
    public static Gpt2Config Config { get; } = (Gpt2Config)HfConfig.Parse(
        "{\"model_type\":\"gpt2\",\"vocab_size\":50,\"n_positions\":32,\"n_embd\":16,\"n_layer\":2,\"n_head\":2,"
        + "\"attn_pdrop\":0,\"resid_pdrop\":0,\"embd_pdrop\":0}");

    public static Gpt2Model Create(Generator generator)
    {
        var model = new Gpt2Model(Config, generator: generator);
        using (GradMode.Disable())
            foreach (var (name, p) in model.NamedParameters())
                if (!name.Contains("ln") && name.EndsWith("weight", StringComparison.Ordinal))
                    Ops.MulInPlace(p, 10);   // GPT-2's N(0, 0.02²) -> N(0, 0.2²)
        return model;
    }

    public static Tensor Input()
    {
        var ids = new long[3 * 5];
        for (int i = 0; i < ids.Length; i++) ids[i] = (i * 7 + 3) % 50;
        return Tensor.FromArray(ids, 3, 5);
    }
}

/// <summary>Tiny LLaMA (vocabulary 40, 2 layers, width 16, 4 query heads over 2 key/value heads, untied head).</summary>
internal static class TestLlama
{
    public static RopeDecoderConfig Config { get; } = (RopeDecoderConfig)HfConfig.Parse(
        "{\"model_type\":\"llama\",\"vocab_size\":40,\"hidden_size\":16,\"intermediate_size\":24,\"num_hidden_layers\":2,"
        + "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"max_position_embeddings\":32,\"rms_norm_eps\":1e-6,"
        + "\"hidden_act\":\"silu\",\"tie_word_embeddings\":false}");

    public static LlamaModel Create(Generator generator)
    {
        var model = new LlamaModel(Config, generator: generator);
        using (GradMode.Disable())
            foreach (var (name, p) in model.NamedParameters())
                if (!name.Contains("norm"))
                    Ops.MulInPlace(p, 10);   // N(0, 0.02²) -> N(0, 0.2²): attention far from uniform
        return model;
    }

    public static Tensor Input()
    {
        var ids = new long[3 * 5];
        for (int i = 0; i < ids.Length; i++) ids[i] = (i * 11 + 5) % 40;
        return Tensor.FromArray(ids, 3, 5);
    }
}

/// <summary>Tiny BERT encoder (vocabulary 30, 2 layers, width 16, no dropout), its weights scaled up so attention is
/// not uniform and its LayerNorm scales and shifts random; Forward(ids) gives the last hidden state.</summary>
internal static class TestBert
{
    public static BertConfig Config { get; } = (BertConfig)HfConfig.Parse(
        "{\"model_type\":\"bert\",\"vocab_size\":30,\"hidden_size\":16,\"num_hidden_layers\":2,\"num_attention_heads\":2,"
        + "\"intermediate_size\":24,\"max_position_embeddings\":16,\"hidden_dropout_prob\":0,\"attention_probs_dropout_prob\":0}");

    public static BertModel Create(Generator generator)
    {
        var model = new BertModel(Config, addPoolingLayer: false, generator: generator);
        using (GradMode.Disable())
            foreach (var (name, p) in model.NamedParameters())
                if (!name.Contains("LayerNorm") && name.EndsWith("weight", StringComparison.Ordinal))
                    Ops.MulInPlace(p, 10);   // N(0, 0.02²) -> N(0, 0.2²)
                else if (name.Contains("LayerNorm"))
                    Init.Normal(p, name.EndsWith("weight", StringComparison.Ordinal) ? 1 : 0, 0.5, generator);   // Σy² of a plain LayerNorm output is constant
        return model;
    }

    public static Tensor Input()
    {
        var ids = new long[3 * 5];
        for (int i = 0; i < ids.Length; i++) ids[i] = (i * 7 + 2) % 30;
        return Tensor.FromArray(ids, 3, 5);
    }
}
