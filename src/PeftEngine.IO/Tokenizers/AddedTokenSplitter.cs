using System.Text.RegularExpressions;

namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// Splits raw text into pieces that are either an added token (matched exactly, longest first) or ordinary text
/// for the model. Runs before normalization and pre-tokenization, so added tokens are never broken up.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly Regex? _regex;
    private readonly Dictionary<string, AddedToken> _byContent;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _byContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (var t in tokens)
        {
            if (t.Content.Length > 0) _byContent[t.Content] = t;
        }
        if (_byContent.Count == 0) return;
        // Longest alternatives first: at a given start position the regex takes the first alternative that matches,
        // so this yields the leftmost-longest added token. lstrip/rstrip absorb neighbouring whitespace.
        var alternatives = _byContent.Values
            .OrderByDescending(t => t.Content.Length)
            .ThenBy(t => t.Content, StringComparer.Ordinal)
            .Select(t => (t.LStrip ? @"\s*" : "") + "(" + Regex.Escape(t.Content) + ")" + (t.RStrip ? @"\s*" : ""));
        _regex = new Regex(string.Join("|", alternatives), RegexOptions.CultureInvariant);
    }

    /// <summary>Whether there are any added tokens to match.</summary>
    public bool IsEmpty => _regex is null;

    /// <summary>
    /// Calls <paramref name="onText"/> for each stretch of ordinary text and <paramref name="onToken"/> for each
    /// matched added token, in order.
    /// </summary>
    public void Split(string text, Action<string> onText, Action<AddedToken> onToken)
    {
        if (_regex is null)
        {
            onText(text);
            return;
        }
        int pos = 0;
        foreach (Match m in _regex.Matches(text))
        {
            if (m.Index > pos) onText(text.Substring(pos, m.Index - pos));
            var inner = m.Groups.Cast<Group>().Skip(1).First(g => g.Success);
            onToken(_byContent[inner.Value]);
            pos = m.Index + m.Length;
        }
        if (pos < text.Length) onText(text.Substring(pos));
    }
}
