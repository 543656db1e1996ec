using PeftEngine.Models;
using PeftEngine.Nn;
using PeftEngine.Peft.Prompt;

namespace PeftEngine.Peft;

public sealed partial class PeftModel
{
    private bool _promptDisabled;

    /// <summary>The prompt encoders by adapter name (HF: PeftModel.prompt_encoder), registered on first use.</summary>
    private PromptEncoderDict PromptEncoders =>
        NamedChildren().Select(c => c.Module).OfType<PromptEncoderDict>().FirstOrDefault()
        ?? RegisterModule("prompt_encoder", new PromptEncoderDict());

    /// <summary>The language model as prompt learning needs it.</summary>
    private IPromptableCausalLanguageModel PromptableLm => _languageModel as IPromptableCausalLanguageModel
        ?? throw new NotSupportedException($"Prompt learning needs a language model that takes input embeddings and an attention prefix; {Base.Model?.GetType().Name} does not");

    /// <summary>True when some adapter is a prompt-learning one.</summary>
    private bool HasPromptAdapters => _configs.Values.Any(c => c is PromptLearningConfig);

    /// <summary>The active prompt-learning adapter, or null (none active, or inside <see cref="DisableAdapter"/>).</summary>
    private (string Name, PromptLearningConfig Config, PromptLearningTuner Tuner)? ActivePrompt
    {
        get
        {
            if (_promptDisabled) return null;
            foreach (var a in _active)
                if (_configs[a] is PromptLearningConfig c) return (a, c, (PromptLearningTuner)_tuners[c.PeftType]);
            return null;
        }
    }

    /// <summary>Logits with the active prompt applied. Without a cache, or with an empty one (the first generation
    /// step), the prompt goes in: prompt tuning returns (B, n + T, V) (its virtual tokens come first), prefix tuning
    /// (B, T, V). With a filled cache the prompt is already in it. The attention mask, if any, is widened by n ones.</summary>
    /// <remarks>HF: PeftModelForCausalLM.forward and prepare_inputs_for_generation for prompt learning: position ids
    /// are not passed (positions run on from the virtual tokens / the prefix).</remarks>
    private Tensor PromptLogits((string Name, PromptLearningConfig Config, PromptLearningTuner Tuner) prompt, Tensor ids, Tensor? attentionMask, ModelKvCache? cache)
    {
        var lm = PromptableLm;
        if (ids.Rank != 2 || ids.DType != DType.I64)
            throw new ArgumentException($"PeftModel: ids must be (B, T) i64, got {ids.DType.Name()} {ids.Shape}");
        int b = ids.Shape[0], n = prompt.Config.NumVirtualTokens;
        using var mask = attentionMask is null ? null : WidenMask(attentionMask, n);   // (B, S) -> (B, n + S)
        if (cache is not null && cache.Length > 0)
            return lm.Forward(new DecoderInputs { InputIds = ids, AttentionMask = mask, Cache = cache });
        if (prompt.Tuner is PromptTuningTuner tuning)
        {
            using var embeds = lm.EmbedTokens(ids);                                        // (B, T, C)
            using var virtualTokens = tuning.VirtualTokens(prompt.Name, b, embeds.DType);   // (B, n, C)
            using var joined = Ops.Cat([virtualTokens, embeds], 1);                        // (B, n + T, C)
            return lm.Forward(new DecoderInputs { InputsEmbeds = joined, AttentionMask = mask, Cache = cache });
        }
        var owned = new List<Tensor>();
        try
        {
            var dtype = Model.Parameters().First().DType;
            var prefix = ((PrefixTuningTuner)prompt.Tuner).BuildPrefix(prompt.Name, (PrefixTuningConfig)prompt.Config, b, dtype, owned);
            return lm.Forward(new DecoderInputs { InputIds = ids, AttentionMask = mask, Cache = cache, Prefix = prefix });
        }
        finally
        {
            foreach (var t in owned) t.Dispose();
        }
    }

    /// <summary>The loss with the active prompt: prompt tuning scores labels widened by n times -100 (so the last
    /// virtual token predicts the first label), prefix tuning the labels as they are.</summary>
    /// <remarks>HF: PeftModelForCausalLM.forward(input_ids, attention_mask, labels).loss.</remarks>
    private Tensor PromptLoss((string Name, PromptLearningConfig Config, PromptLearningTuner Tuner) prompt, Tensor ids, Tensor labels, Tensor? attentionMask)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Rank != 2 || labels.DType != DType.I64 || labels.Shape != ids.Shape)
            throw new ArgumentException($"PeftModel.Loss: labels must be i64 with the ids' shape {ids.Shape}, got {labels.DType.Name()} {labels.Shape}");
        using var logits = PromptLogits(prompt, ids, attentionMask, null);
        if (prompt.Tuner is not PromptTuningTuner) return CausalLmLoss.Compute(logits, labels, nameof(PeftModel));
        int b = ids.Shape[0], n = prompt.Config.NumVirtualTokens;
        using var ignored = Tensor.Full(new Shape(b, n), -100, DType.I64);   // (B, n)
        using var widened = Ops.Cat([ignored, labels], 1);                  // (B, n + T)
        return CausalLmLoss.Compute(logits, widened, nameof(PeftModel));
    }

    /// <summary>(B, S) -> (B, n + S): n ones in front, in the mask's dtype.</summary>
    private static Tensor WidenMask(Tensor mask, int n)
    {
        if (mask.Rank != 2) throw new ArgumentException($"PeftModel: attention mask must be (B, S), got {mask.Shape}");
        int b = mask.Shape[0];
        using var ones = Tensor.Ones(new Shape(b, n), mask.DType);
        return Ops.Cat([ones, mask], 1);
    }

    /// <summary>Throws when <paramref name="names"/> include a prompt-learning adapter: those cannot be merged.</summary>
    private void RejectPromptMerge(IEnumerable<string> names, string what)
    {
        foreach (var n in names)
            if (_configs.TryGetValue(n, out var c) && c is PromptLearningConfig)
                throw new NotSupportedException($"{what}: adapter {n} is {c.PeftType}, a prompt-learning method; its virtual tokens / prefix cannot be merged into the weights");
    }
}
