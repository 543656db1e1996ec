using System.Globalization;
using System.Text;

namespace PeftEngine.IO.Tokenizers;

/// <summary>
/// BERT's accent stripping: canonical decomposition (NFD) followed by removal of non-spacing marks, e.g.
/// "Äpfel" -> "Apfel", "Việt" -> "Viet". Uses a built-in table instead of <c>string.Normalize</c> so the result is
/// the same with or without ICU (the engine runs in invariant-globalization mode, where Normalize leaves
/// non-ASCII text unchanged).
/// </summary>
internal static partial class AccentFolding
{
    private static readonly Dictionary<int, string> Map = Parse();

    private static Dictionary<int, string> Parse()
    {
        var map = new Dictionary<int, string>(2200);
        foreach (var entry in Table.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = entry.IndexOf('=');
            map[int.Parse(entry.AsSpan(0, eq), NumberStyles.HexNumber, CultureInfo.InvariantCulture)] = entry.Substring(eq + 1);
        }
        return map;
    }

    /// <summary>Removes accents from <paramref name="text"/>.</summary>
    public static string Strip(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            int cp = rune.Value;
            if (cp < 0x80)
            {
                sb.Append((char)cp);
            }
            else if (cp >= 0xAC00 && cp <= 0xD7A3)
            {
                // Hangul syllable = leading consonant + vowel (+ trailing consonant), all kept (they are letters).
                int s = cp - 0xAC00;
                sb.Append((char)(0x1100 + s / 588)).Append((char)(0x1161 + s % 588 / 28));
                if (s % 28 != 0) sb.Append((char)(0x11A7 + s % 28));
            }
            else if (Map.TryGetValue(cp, out var folded))
            {
                sb.Append(folded);
            }
            else if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark)
            {
                sb.Append(rune.ToString());
            }
        }
        return sb.ToString();
    }
}
