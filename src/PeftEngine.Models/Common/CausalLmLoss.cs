namespace PeftEngine.Models;

/// <summary>The next-token loss shared by every decoder-only model.</summary>
/// <remarks>HF: transformers.loss.loss_utils.ForCausalLMLoss (shift by one, ignore_index -100, mean).</remarks>
public static class CausalLmLoss
{
    /// <summary>Scores logits (B, T, V) at positions 0 .. T-2 against labels (B, T) I64 at 1 .. T-1; labels of
    /// -100 are ignored and the result is the mean over the rest (a scalar).</summary>
    public static Tensor Compute(Tensor logits, Tensor labels, string who)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.DType != DType.I64 || labels.Rank != 2 || labels.Shape[0] != logits.Shape[0] || labels.Shape[1] != logits.Shape[1])
            throw new ArgumentException($"{who}.Loss: labels must be i64 (B, T) = ({logits.Shape[0]}, {logits.Shape[1]}), got {labels.DType.Name()} {labels.Shape}");
        int t = logits.Shape[1];
        if (t < 2) throw new ArgumentException($"{who}.Loss: need at least 2 positions to predict a next token, got T = {t}");
        using var shiftedLogits = Ops.Slice(logits, 1, 0, t - 1);   // (B, T, V) -> (B, T-1, V)
        using var shiftedView = Ops.Slice(labels, 1, 1, t);         // (B, T) -> (B, T-1)
        using var shiftedLabels = Ops.Contiguous(shiftedView);
        return Ops.CrossEntropy(shiftedLogits, shiftedLabels, ignoreIndex: -100);
    }
}
