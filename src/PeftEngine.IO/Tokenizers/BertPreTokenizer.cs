using System.Globalization;
using System.Text;

namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// BERT's "basic tokenizer": removes control characters, maps whitespace to spaces, puts spaces around CJK
/// ideographs, optionally lowercases and strips accents (NFD, then drops combining marks), and splits on
/// whitespace and punctuation (every punctuation character is its own word).
/// </summary>
/// <remarks>Hugging Face equivalent: <c>BertNormalizer</c> + <c>BertPreTokenizer</c> (<c>BasicTokenizer</c> in
/// the slow tokenizer).</remarks>
public sealed class BertPreTokenizer
{
    /// <summary>Creates the pre-tokenizer.</summary>
    /// <param name="lowercase">Lowercase the text (uncased models).</param>
    /// <param name="stripAccents">Remove accents; null means "same as <paramref name="lowercase"/>" as in BERT.</param>
    /// <param name="handleChineseChars">Surround CJK ideographs with spaces.</param>
    public BertPreTokenizer(bool lowercase = true, bool? stripAccents = null, bool handleChineseChars = true)
    {
        Lowercase = lowercase;
        StripAccents = stripAccents ?? lowercase;
        HandleChineseChars = handleChineseChars;
    }

    /// <summary>Whether text is lowercased.</summary>
    public bool Lowercase { get; }

    /// <summary>Whether accents are removed.</summary>
    public bool StripAccents { get; }

    /// <summary>Whether CJK ideographs become separate words.</summary>
    public bool HandleChineseChars { get; }

    /// <summary>Normalizes <paramref name="text"/> and returns its words.</summary>
    public List<string> Split(string text)
    {
        var sb = new StringBuilder(text.Length + 8);
        foreach (var rune in text.EnumerateRunes())
        {
            int cp = rune.Value;
            if (cp == 0 || cp == 0xFFFD || IsControl(rune)) continue;
            if (IsWhitespace(rune)) sb.Append(' ');
            else if (HandleChineseChars && IsCjk(cp)) sb.Append(' ').Append(rune.ToString()).Append(' ');
            else sb.Append(rune.ToString());
        }
        string s = sb.ToString();
        if (StripAccents) s = RemoveAccents(s);
        if (Lowercase) s = s.ToLowerInvariant();

        var words = new List<string>();
        var current = new StringBuilder();
        void Flush()
        {
            if (current.Length > 0) words.Add(current.ToString());
            current.Clear();
        }
        foreach (var rune in s.EnumerateRunes())
        {
            if (IsWhitespace(rune)) Flush();
            else if (IsPunctuation(rune))
            {
                Flush();
                words.Add(rune.ToString());
            }
            else current.Append(rune.ToString());
        }
        Flush();
        return words;
    }

    // NFD, then drop the combining marks: "Äpfel" -> "A\u0308pfel" -> "Apfel".
    private static string RemoveAccents(string s)
    {
        string d = UnicodeNormalization.Nfd(s);
        var sb = new StringBuilder(d.Length);
        foreach (var rune in d.EnumerateRunes())
        {
            if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark) sb.Append(rune.ToString());
        }
        return sb.ToString();
    }

    private static bool IsWhitespace(Rune r) =>
        r.Value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(r) == UnicodeCategory.SpaceSeparator;

    private static bool IsControl(Rune r)
    {
        if (r.Value is '\t' or '\n' or '\r') return false;
        var c = Rune.GetUnicodeCategory(r);
        return c is UnicodeCategory.Control or UnicodeCategory.Format;
    }

    private static bool IsPunctuation(Rune r)
    {
        int cp = r.Value;
        // BERT treats all non-letter/number ASCII symbols as punctuation, e.g. '$', '^', '`'.
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
        return Rune.GetUnicodeCategory(r) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    private static bool IsCjk(int cp) =>
        (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
        || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF)
        || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}
