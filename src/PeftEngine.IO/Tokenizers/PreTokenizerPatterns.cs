namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// The regular expressions byte-level BPE models use to cut text into words before merging. Each match is one
/// word; BPE never merges across words.
/// </summary>
/// <remarks>
/// .NET regexes work on UTF-16 code units, so <c>\p{L}</c> and <c>\p{N}</c> do not match letters or digits
/// outside the Basic Multilingual Plane (their surrogate halves are category Cs). Such characters fall into the
/// "other symbols" alternative instead; emoji, which are symbols anyway, split exactly as in the Rust tokenizers.
/// </remarks>
public static class PreTokenizerPatterns
{
    /// <summary>GPT-2 (also GPT-J, RoBERTa): contractions, optional space + letters / digits / symbols, whitespace.</summary>
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Llama-3 (tiktoken cl100k style): case-insensitive contractions, digits in groups of up to three.</summary>
    public const string Llama3 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Qwen2 / Qwen2.5 / Qwen3: like Llama-3 but every digit is its own word.</summary>
    public const string Qwen2 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
}
