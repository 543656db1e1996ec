namespace PeftEngine.Models;

/// <summary>
/// Turns token hidden states (B, T, C) into one vector per sentence (B, C): mean pooling over the real tokens
/// (sentence-transformers' default, used by all-MiniLM-L6-v2), the first ([CLS]) token, and L2 normalisation.
/// All three are built from differentiable ops, so they can sit under a training loss.
/// </summary>
/// <remarks>sentence-transformers: models.Pooling(pooling_mode_mean_tokens / pooling_mode_cls_token) and
/// models.Normalize (torch.nn.functional.normalize(x, p=2, dim=1)).</remarks>
public static class SentencePooling
{
    /// <summary>Mean of the hidden states over positions whose mask is 1:
    /// e = Σ_t m_t h_t / max(Σ_t m_t, 1e-9). hidden (B, T, C), attentionMask (B, T) (U8, I32, I64 or float) -> (B, C).
    /// A null mask averages every position.</summary>
    /// <remarks>sentence-transformers: Pooling with pooling_mode_mean_tokens=True (its clamp min 1e-9).</remarks>
    public static Tensor Mean(Tensor hidden, Tensor? attentionMask)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        if (hidden.Rank != 3) throw new ArgumentException($"SentencePooling.Mean: hidden states must be (B, T, C), got {hidden.Shape}");
        if (attentionMask is null) return Ops.Mean(hidden, 1);
        if (attentionMask.Rank != 2 || attentionMask.Shape[0] != hidden.Shape[0] || attentionMask.Shape[1] != hidden.Shape[1])
            throw new ArgumentException($"SentencePooling.Mean: attention mask must be (B, T) = ({hidden.Shape[0]}, {hidden.Shape[1]}), got {attentionMask.Shape}");
        using var m = Ops.Cast(attentionMask, hidden.DType);          // (B, T)
        using var m3 = Ops.Unsqueeze(m, 2);                           // (B, T) -> (B, T, 1)
        using var weighted = Ops.Mul(hidden, m3);                     // (B, T, C)
        using var sum = Ops.Sum(weighted, 1);                         // (B, T, C) -> (B, C)
        using var count = Ops.Sum(m3, 1);                             // (B, T, 1) -> (B, 1)
        using var safeCount = Ops.Clamp(count, min: 1e-9);
        return Ops.Div(sum, safeCount);                               // (B, C) / (B, 1)
    }

    /// <summary>The hidden state of the first token: (B, T, C) -> (B, C).</summary>
    /// <remarks>sentence-transformers: Pooling with pooling_mode_cls_token=True; HF: last_hidden_state[:, 0].</remarks>
    public static Tensor Cls(Tensor hidden)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        if (hidden.Rank != 3) throw new ArgumentException($"SentencePooling.Cls: hidden states must be (B, T, C), got {hidden.Shape}");
        return Ops.Select(hidden, 1, 0);
    }

    /// <summary>Scales each row of x (B, C) to unit Euclidean length: x / max(‖x‖₂, 1e-12).</summary>
    /// <remarks>PyTorch: torch.nn.functional.normalize(x, p=2, dim=-1, eps=1e-12).</remarks>
    public static Tensor L2Normalize(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var norm = Ops.Norm(x, 2, x.Rank - 1, keepDim: true);   // (B, C) -> (B, 1)
        using var safe = Ops.Clamp(norm, min: 1e-12);
        return Ops.Div(x, safe);
    }

    /// <summary>Cosine similarity of two embedding vectors given as arrays.</summary>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"SentencePooling.Cosine: lengths differ ({a.Length} vs {b.Length})");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
        return dot / Math.Max(Math.Sqrt(na) * Math.Sqrt(nb), 1e-12);
    }
}
