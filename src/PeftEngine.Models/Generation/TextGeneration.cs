namespace PeftEngine.Models.Generation;

/// <summary>Called once per generation step with the token chosen for each row (the pad token for rows that
/// have already finished).</summary>
public delegate void TokenCallback(int step, IReadOnlyList<long> tokens);

/// <summary>What <see cref="TextGeneration.Generate"/> produced.</summary>
/// <param name="Sequences">Per row: the prompt followed by the generated tokens, up to and including a stop
/// token (no padding after it).</param>
/// <param name="NewTokens">Per row: how many tokens were generated.</param>
/// <param name="Stopped">Per row: true when a stop token ended the row, false when the limit did.</param>
public sealed record GenerationResult(long[][] Sequences, int[] NewTokens, bool[] Stopped);

/// <summary>
/// Autoregressive decoding with a key/value cache: the prompt is run once (prefill), then one token per step,
/// each chosen greedily or by seeded sampling after the config's logits processors.
/// </summary>
/// <remarks>HF: model.generate(input_ids, attention_mask, generation_config, streamer) with a static cache.
/// Prompts of a batch have equal length; shorter prompts may be left-padded with an attention mask of zeros. For a
/// model that takes position ids (<see cref="IPositionedCausalLanguageModel"/>) each row then counts its positions
/// from its first real token, as HF's generate does (position_ids = cumsum(mask) - 1, padding at 1), so a padded row
/// generates what its prompt generates alone.</remarks>
public static class TextGeneration
{
    /// <summary>Generates up to <see cref="GenerationConfig.MaxNewTokens"/> tokens after each prompt row.</summary>
    /// <param name="model">Any causal LM.</param>
    /// <param name="promptIds">(B, T) I64 prompt tokens.</param>
    /// <param name="config">Decoding settings.</param>
    /// <param name="attentionMask">(B, T) of 1 (token) / 0 (left padding), or null.</param>
    /// <param name="onToken">Streaming callback, once per step.</param>
    public static GenerationResult Generate(ICausalLanguageModel model, Tensor promptIds, GenerationConfig config,
        Tensor? attentionMask = null, TokenCallback? onToken = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (promptIds.Rank != 2 || promptIds.DType != DType.I64 || promptIds.Shape[1] == 0)
            throw new ArgumentException($"TextGeneration.Generate: prompt ids must be (B, T ≥ 1) i64, got {promptIds.DType.Name()} {promptIds.Shape}");
        int b = promptIds.Shape[0], t = promptIds.Shape[1];
        if (t > model.MaxPositions)
            throw new ArgumentException($"TextGeneration.Generate: the prompt has {t} tokens, the model accepts {model.MaxPositions}");
        int maxNew = Math.Min(config.MaxNewTokens, model.MaxPositions - t);
        var maskRows = attentionMask is null ? null : ReadMask(attentionMask, b, t);

        var prompt = promptIds.ToArray<long>();
        var sequences = Enumerable.Range(0, b).Select(r => prompt.AsSpan(r * t, t).ToArray().ToList()).ToArray();
        var processors = config.Processors();
        var stop = new HashSet<long>(config.StopTokenIds);
        long pad = config.PadTokenId ?? (config.StopTokenIds.Count > 0 ? config.StopTokenIds[0] : 0);
        var generator = new Generator(config.Seed);
        var newTokens = new int[b];
        var stopped = new bool[b];
        if (maxNew == 0) return new GenerationResult(sequences.Select(s => s.ToArray()).ToArray(), newTokens, stopped);

        using var _ = GradMode.Disable();
        using var cache = model.CreateCache(b, t + maxNew);
        var device = ModelDevice.Of(model.Module);           // host-built ids, masks and positions go where the model is
        var input = promptIds.To(device);
        try
        {
            for (int step = 0; step < maxNew; step++)
            {
                using var mask = maskRows is null ? null : MaskTensor(maskRows, b, t + step, device);   // (B, S)
                using var positions = maskRows is null || model is not IPositionedCausalLanguageModel ? null
                    : PositionIds(maskRows, input.Shape[1], device);                   // (B, n)
                long[] chosen;
                using (var logits = positions is null ? model.Forward(input, mask, cache)
                           : ((IPositionedCausalLanguageModel)model).Forward(input, mask, cache, positions))   // (B, n, V)
                using (var last = Ops.Select(logits, 1, logits.Shape[1] - 1))      // (B, n, V) -> (B, V)
                    chosen = Choose(last.ToDoubleArray(), b, model.VocabSize, sequences, processors, config.DoSample, generator);
                for (int r = 0; r < b; r++)
                {
                    if (stopped[r]) { chosen[r] = pad; continue; }
                    sequences[r].Add(chosen[r]);
                    newTokens[r]++;
                    if (stop.Contains(chosen[r])) stopped[r] = true;
                }
                onToken?.Invoke(step, chosen);
                if (stopped.All(s => s)) break;
                input.Dispose();
                using (var host = Tensor.FromArray(chosen, b, 1)) input = host.To(device);   // (B, 1)
                if (maskRows is not null)
                    foreach (var row in maskRows) row.Add(1);
            }
        }
        finally { input.Dispose(); }
        return new GenerationResult(sequences.Select(s => s.ToArray()).ToArray(), newTokens, stopped);
    }

    /// <summary>Picks one token per row from the last position's scores (B·V values).</summary>
    private static long[] Choose(double[] scores, int b, int v, List<long>[] sequences, IReadOnlyList<ILogitsProcessor> processors,
        bool sample, Generator generator)
    {
        var chosen = new long[b];
        double[]? uniforms = null;
        if (sample)
            using (var u = Tensor.Rand(new Shape(b), generator, DType.F64)) uniforms = u.ToDoubleArray();
        for (int r = 0; r < b; r++)
        {
            var row = scores.AsSpan(r * v, v);
            foreach (var p in processors) p.Process(sequences[r], row);
            chosen[r] = sample ? Sampling.Draw(row, uniforms![r]) : Sampling.ArgMax(row);
        }
        return chosen;
    }

    private static List<long>[] ReadMask(Tensor mask, int b, int t)
    {
        var real = AttentionMasks.ReadMask(mask, b, t);
        return Enumerable.Range(0, b).Select(r => real.AsSpan(r * t, t).ToArray().Select(x => x ? 1L : 0L).ToList()).ToArray();
    }

    /// <summary>HF's position ids for the last <paramref name="n"/> columns of the mask: the count of real tokens
    /// so far minus one, and 1 at padding.</summary>
    private static Tensor PositionIds(List<long>[] rows, int n, Device device)
    {
        var ids = new long[rows.Length * n];
        for (int r = 0; r < rows.Length; r++)
        {
            long seen = 0;
            int s = rows[r].Count;
            for (int j = 0; j < s; j++)
            {
                seen += rows[r][j];
                if (j >= s - n) ids[r * n + j - (s - n)] = rows[r][j] == 0 ? 1 : seen - 1;
            }
        }
        using var host = Tensor.FromArray(ids, rows.Length, n);
        return host.To(device);
    }

    private static Tensor MaskTensor(List<long>[] rows, int b, int s, Device device)
    {
        var flat = new long[(long)b * s];
        for (int r = 0; r < b; r++) rows[r].CopyTo(flat, r * s);
        using var host = Tensor.FromArray(flat, b, s);
        return host.To(device);
    }
}
