namespace PeftEngine.IO.Tokenizers;

/// <summary>How a batch is padded.</summary>
public enum PaddingStrategy
{
    /// <summary>No padding: rows keep their own lengths.</summary>
    None,
    /// <summary>Pad every row to the longest row of the batch.</summary>
    Longest,
    /// <summary>Pad every row to <see cref="BatchEncodeOptions.MaxLength"/>.</summary>
    MaxLength,
}

/// <summary>Which end of a sequence padding or truncation acts on.</summary>
public enum Side
{
    /// <summary>The end of the sequence (padding after the text; truncation drops the last tokens).</summary>
    Right,
    /// <summary>The start of the sequence (padding before the text, as for batched generation; truncation drops
    /// the first tokens).</summary>
    Left,
}

/// <summary>Options of <see cref="BatchEncoder.Encode"/>.</summary>
/// <remarks>Hugging Face equivalent: the <c>padding</c>, <c>truncation</c>, <c>max_length</c>,
/// <c>padding_side</c>, <c>truncation_side</c> and <c>pad_to_multiple_of</c> arguments of <c>tokenizer(...)</c>.</remarks>
public sealed record BatchEncodeOptions
{
    /// <summary>Add the post-processor's special tokens (BOS, [CLS]/[SEP]).</summary>
    public bool AddSpecialTokens { get; init; } = true;

    /// <summary>Padding strategy.</summary>
    public PaddingStrategy Padding { get; init; } = PaddingStrategy.Longest;

    /// <summary>Where pad tokens go.</summary>
    public Side PaddingSide { get; init; } = Side.Right;

    /// <summary>Cut sequences longer than <see cref="MaxLength"/>.</summary>
    public bool Truncation { get; init; }

    /// <summary>Which tokens truncation removes.</summary>
    public Side TruncationSide { get; init; } = Side.Right;

    /// <summary>Maximum length (special tokens included) for truncation and <see cref="PaddingStrategy.MaxLength"/>.</summary>
    public int? MaxLength { get; init; }

    /// <summary>Round the padded length up to a multiple of this.</summary>
    public int? PadToMultipleOf { get; init; }

    /// <summary>Pad id to use when the tokenizer has none (falls back to the EOS id when both are null).</summary>
    public int? PadTokenId { get; init; }
}

/// <summary>Token ids and attention mask of a batch (1 = real token, 0 = padding), one row per text.</summary>
/// <param name="InputIds">Token ids per row.</param>
/// <param name="AttentionMask">Mask per row, same lengths as <paramref name="InputIds"/>.</param>
public sealed record BatchEncoding(int[][] InputIds, int[][] AttentionMask)
{
    /// <summary>Row-major (batch, length) ids as Int64 for index tensors; requires equal row lengths.</summary>
    public long[] FlatInputIds() => Flatten(InputIds);

    /// <summary>Row-major (batch, length) mask as Int64; requires equal row lengths.</summary>
    public long[] FlatAttentionMask() => Flatten(AttentionMask);

    private static long[] Flatten(int[][] rows)
    {
        if (rows.Length == 0) return [];
        int len = rows[0].Length;
        if (rows.Any(r => r.Length != len))
            throw new InvalidOperationException("BatchEncoding: rows have different lengths; encode with padding to flatten.");
        return rows.SelectMany(r => r).Select(v => (long)v).ToArray();
    }
}

/// <summary>Encodes several texts at once with truncation and padding.</summary>
/// <remarks>Hugging Face equivalent: <c>tokenizer(list_of_texts, padding=..., truncation=..., max_length=...)</c>.</remarks>
public static class BatchEncoder
{
    /// <summary>Encodes <paramref name="texts"/> with <paramref name="options"/> (defaults: special tokens, pad to longest, right side).</summary>
    public static BatchEncoding Encode(ITokenizer tokenizer, IReadOnlyList<string> texts, BatchEncodeOptions? options = null)
    {
        options ??= new BatchEncodeOptions();
        if ((options.Truncation || options.Padding == PaddingStrategy.MaxLength) && options.MaxLength is not int)
            throw new ArgumentException("BatchEncoder.Encode: truncation and PaddingStrategy.MaxLength need MaxLength.", nameof(options));
        if (options.MaxLength is <= 0)
            throw new ArgumentException($"BatchEncoder.Encode: MaxLength must be positive, got {options.MaxLength}.", nameof(options));

        IReadOnlyList<int> prefix = [], suffix = [];
        if (options.AddSpecialTokens && tokenizer is TokenizerBase tb)
        {
            prefix = tb.PrefixTokens;
            suffix = tb.SuffixTokens;
        }
        var rows = new List<int>[texts.Count];
        for (int i = 0; i < texts.Count; i++)
        {
            // Special tokens are kept; truncation only removes text tokens (unless they alone exceed MaxLength).
            var body = tokenizer is TokenizerBase
                ? tokenizer.Encode(texts[i], addSpecialTokens: false).ToList()
                : tokenizer.Encode(texts[i], options.AddSpecialTokens).ToList();
            if (options.Truncation)
            {
                int room = Math.Max(0, options.MaxLength!.Value - prefix.Count - suffix.Count);
                if (body.Count > room)
                {
                    if (options.TruncationSide == Side.Right) body.RemoveRange(room, body.Count - room);
                    else body.RemoveRange(0, body.Count - room);
                }
            }
            var row = new List<int>(prefix.Count + body.Count + suffix.Count);
            row.AddRange(prefix);
            row.AddRange(body);
            row.AddRange(suffix);
            if (options.Truncation && row.Count > options.MaxLength!.Value) row.RemoveRange(options.MaxLength.Value, row.Count - options.MaxLength.Value);
            rows[i] = row;
        }

        int target = options.Padding switch
        {
            PaddingStrategy.Longest => rows.Length == 0 ? 0 : rows.Max(r => r.Count),
            PaddingStrategy.MaxLength => options.MaxLength!.Value,
            _ => -1,
        };
        if (target >= 0 && options.PadToMultipleOf is int mult and > 0) target = (target + mult - 1) / mult * mult;

        var ids = new int[rows.Length][];
        var mask = new int[rows.Length][];
        for (int i = 0; i < rows.Length; i++)
        {
            var row = rows[i];
            int padCount = target < 0 ? 0 : Math.Max(0, target - row.Count);
            int padId = padCount == 0 ? 0 : ResolvePad(tokenizer, options)
                ?? throw new InvalidOperationException("BatchEncoder.Encode: padding needed but the tokenizer has no pad or EOS token; set BatchEncodeOptions.PadTokenId.");
            ids[i] = new int[row.Count + padCount];
            mask[i] = new int[row.Count + padCount];
            int start = options.PaddingSide == Side.Left ? padCount : 0;
            for (int j = 0; j < ids[i].Length; j++)
            {
                bool real = j >= start && j < start + row.Count;
                ids[i][j] = real ? row[j - start] : padId;
                mask[i][j] = real ? 1 : 0;
            }
        }
        return new BatchEncoding(ids, mask);
    }

    private static int? ResolvePad(ITokenizer tokenizer, BatchEncodeOptions options) =>
        tokenizer.PadTokenId ?? options.PadTokenId ?? tokenizer.EosTokenId;
}
