using PeftEngine.Models;

namespace PeftEngine.Peft;

public sealed partial class PeftModel
{
    /// <summary>Runs <paramref name="run"/> with <see cref="Tuners.PeftRuntime.PromptTokens"/> set from the attention
    /// mask and labels of a prompt forward (no cached positions yet) or a loss; a decoding step leaves it null.</summary>
    private T WithPromptTokens<T>(Tensor ids, Tensor? attentionMask, Tensor? labels, ModelKvCache? cache, Func<T> run)
    {
        if (cache is { Length: > 0 } || (attentionMask is null && labels is null)) return run();
        var previous = Runtime.PromptTokens;
        Runtime.PromptTokens = PromptTokens(ids, attentionMask, labels);
        try { return run(); }
        finally { Runtime.PromptTokens = previous; }
    }

    /// <summary>
    /// For each row, the indices along T of its prompt tokens: the real tokens (mask 1, any padding side), and in a
    /// loss only those before the first real token whose label is not -100 (the answer). A row whose real labels
    /// are all set (a plain language-model loss) or all -100 counts every real token as prompt.
    /// </summary>
    /// <remarks>pyreft: the prompt length its data module measures before padding, from which the first/last
    /// intervention positions are counted; the answer tokens of a training example are not intervened.</remarks>
    public static IReadOnlyList<int[]> PromptTokens(Tensor ids, Tensor? attentionMask, Tensor? labels)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Rank != 2) throw new ArgumentException($"PromptTokens: ids must be (B, T), got {ids.Shape}");
        int b = ids.Shape[0], t = ids.Shape[1];
        if (attentionMask is not null && (attentionMask.Rank != 2 || attentionMask.Shape[0] != b || attentionMask.Shape[1] != t))
            throw new ArgumentException($"PromptTokens: the attention mask {attentionMask.Shape} must be (B, T) = ({b}, {t}) for a prompt forward");
        if (labels is not null && labels.Shape != ids.Shape)
            throw new ArgumentException($"PromptTokens: labels {labels.Shape} must have the ids' shape {ids.Shape}");
        double[]? mask = attentionMask?.ToDoubleArray();
        double[]? lab = labels?.ToDoubleArray();
        var rows = new int[b][];
        for (int row = 0; row < b; row++)
        {
            var real = Enumerable.Range(0, t).Where(i => mask is null || mask[row * t + i] != 0).ToList();
            int prompt = real.Count;
            if (lab is not null)
            {
                int answer = real.FindIndex(i => lab[row * t + i] != -100);
                if (answer > 0) prompt = answer;
            }
            rows[row] = real.Take(prompt).ToArray();
        }
        return rows;
    }
}
