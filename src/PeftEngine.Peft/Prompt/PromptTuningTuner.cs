using PeftEngine.IO.Tokenizers;
using PeftEngine.Models;
using PeftEngine.Nn;

namespace PeftEngine.Peft.Prompt;

/// <summary>
/// Prompt tuning: a <see cref="PromptEmbedding"/> per adapter whose n rows go in front of the input embeddings.
/// </summary>
/// <remarks>HF: PeftModel._setup_prompt_encoder with PromptEmbedding, and the prompt branch of
/// PeftModelForCausalLM.forward / prepare_inputs_for_generation.</remarks>
public sealed class PromptTuningTuner : PromptLearningTuner
{
    /// <inheritdoc/>
    public override string PeftType => "PROMPT_TUNING";

    /// <inheritdoc/>
    protected override PromptLearningConfig Complete(PromptLearningConfig config, DecoderGeometry geometry)
    {
        var c = (PromptTuningConfig)config;
        c.Validate();
        if (c.TokenDim != geometry.HiddenSize)
            throw new ArgumentException($"PROMPT_TUNING: token_dim {c.TokenDim} must equal the model's hidden size {geometry.HiddenSize}");
        return c;
    }

    /// <inheritdoc/>
    /// <remarks>HF: PromptEmbedding.__init__: SAMPLE_VOCAB draws ids with randint(0, vocab) and copies their
    /// embeddings; TEXT tokenizes the text (special tokens included), repeats it ceil(n / len) times and cuts it to
    /// n. Neither runs in inference mode (the weights come from the file).</remarks>
    protected override Module CreateEncoder(PromptLearningConfig config, Generator? generator)
    {
        var c = (PromptTuningConfig)config;
        int n = c.NumVirtualTokens, d = c.TokenDim!.Value;
        long[]? ids = c.InferenceMode ? null : c.PromptTuningInit switch
        {
            PromptTuningInit.SampleVocab => SampleIds(n, Model.VocabSize, generator),
            PromptTuningInit.Text => TextIds(c, n),
            _ => null,
        };
        if (ids is null) return new PromptEmbedding(n, d, null, generator);
        using var _ = GradMode.Disable();
        using var index = Tensor.FromArray(ids, ids.Length);
        using var rows = Model.EmbedTokens(index);   // (n) -> (n, C)
        return new PromptEmbedding(n, d, rows, generator);
    }

    private static long[] SampleIds(int n, int vocab, Generator? generator)
    {
        using var ids = Tensor.RandInt(new Shape(n), 0, vocab, generator);
        return ids.ToArray<long>();
    }

    /// <summary>The text's token ids repeated and cut to <paramref name="n"/>.</summary>
    internal static long[] TextIds(PromptTuningConfig c, int n)
    {
        string path = c.TokenizerNameOrPath!;
        string file = Directory.Exists(path) ? Path.Combine(path, "tokenizer.json") : path;
        if (!File.Exists(file))
            throw new FileNotFoundException($"PROMPT_TUNING: tokenizer_name_or_path '{path}' is neither a tokenizer.json nor a folder holding one", file);
        var tokens = TokenizerJsonLoader.Load(file).Encode(c.PromptTuningInitText!);
        if (tokens.Length == 0) throw new ArgumentException("PROMPT_TUNING: prompt_tuning_init_text gives no tokens");
        var ids = new long[n];
        for (int i = 0; i < n; i++) ids[i] = tokens[i % tokens.Length];
        return ids;
    }

    /// <inheritdoc/>
    protected override Parameter Table(Module encoder) => ((PromptEmbedding)encoder).Weight;

    /// <inheritdoc/>
    protected override Tensor Computed(Module encoder) => ((PromptEmbedding)encoder).Tokens();

    /// <summary>The virtual tokens of <paramref name="adapter"/> for a batch: (B, n, C) in <paramref name="dtype"/>,
    /// with the graph to the prompt.</summary>
    /// <remarks>HF: get_prompt(batch_size) (the table itself in inference mode, repeated over the batch) cast to the
    /// input embeddings' dtype.</remarks>
    internal Tensor VirtualTokens(string adapter, int batch, DType dtype)
    {
        using var tokens = ((PromptEmbedding)Encoder(adapter)).Tokens();              // (n, C)
        using var cast = tokens.DType == dtype ? null : Ops.Cast(tokens, dtype);
        using var one = Ops.Unsqueeze(cast ?? tokens, 0);                                // (1, n, C)
        return Ops.Expand(one, batch, tokens.Shape[0], tokens.Shape[1]);                 // (B, n, C)
    }
}
