using System.Globalization;
using System.Text;

namespace PeftEngine.IO;

/// <summary>Scalars written the way Python writes them, for files and text that must match what Python tools make
/// (adapter_config.json written by HF PEFT, <c>tojson</c> in chat templates).</summary>
public static class PythonJson
{
    /// <summary>A JSON string as Python's <c>json.dumps</c> writes it: quotes, backslashes and control characters
    /// escaped; with <paramref name="ensureAscii"/> every non-ASCII character as \uXXXX too.</summary>
    public static string String(string s, bool ensureAscii)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char ch in s)
        {
            switch (ch)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (ch < 0x20 || (ensureAscii && ch > 0x7e)) sb.Append("\\u").Append(((int)ch).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(ch);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>A float as Python's <c>repr</c> writes it: the shortest round-trip digits, with ".0" on whole numbers.</summary>
    public static string Float(double d)
    {
        string s = d.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') || s.Contains("Infinity") || s.Contains("NaN") ? s : s + ".0";
    }
}
