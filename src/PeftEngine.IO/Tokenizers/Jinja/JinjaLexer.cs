using System.Globalization;
using System.Text;

namespace PeftEngine.IO.Tokenizers.Jinja;

/// <summary>The kinds of token the lexer produces.</summary>
internal enum JinjaTokenKind
{
    /// <summary>Literal template text outside tags.</summary>
    Text,
    /// <summary>"{{": an output tag opens.</summary>
    OutputOpen,
    /// <summary>"{%": a statement tag opens.</summary>
    StatementOpen,
    /// <summary>"}}" or "%}": the open tag closes.</summary>
    TagClose,
    /// <summary>An identifier or keyword.</summary>
    Name,
    /// <summary>A string literal (Value holds the unescaped text).</summary>
    String,
    /// <summary>An integer or float literal (Literal holds a long or a double).</summary>
    Number,
    /// <summary>An operator or punctuation mark.</summary>
    Operator,
    /// <summary>End of the template.</summary>
    EndOfInput,
}

/// <summary>One token: its kind, its text (or unescaped string value), a numeric value for numbers, and where it starts.</summary>
internal readonly record struct JinjaToken(JinjaTokenKind Kind, string Value, SourcePosition Position, object? Literal = null)
{
    public bool Is(JinjaTokenKind kind, string value) => Kind == kind && Value == value;

    public bool IsName(string value) => Is(JinjaTokenKind.Name, value);

    public bool IsOperator(string value) => Is(JinjaTokenKind.Operator, value);
}

/// <summary>
/// Splits a Jinja template into text and tag tokens, applying whitespace control the way Hugging Face configures
/// Jinja for chat templates: <c>trim_blocks</c> (the first newline after a <c>%}</c> or <c>#}</c> is dropped),
/// <c>lstrip_blocks</c> (spaces and tabs between a line's start and a <c>{%</c> or <c>{#</c> are dropped), the
/// <c>-</c> modifiers (<c>{%-</c>, <c>-%}</c>, <c>{{-</c>, <c>-}}</c> strip all whitespace on that side), <c>+</c>
/// (turns the block rules off for that side), and a single trailing newline of the template removed.
/// Comments <c>{# ... #}</c> produce no tokens.
/// </summary>
/// <remarks>Python equivalent: <c>jinja2.lexer.Lexer</c> under
/// <c>Environment(trim_blocks=True, lstrip_blocks=True)</c>.</remarks>
internal sealed class JinjaLexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "|", ".", ",", ":", "(", ")", "[", "]", "{", "}"];

    private readonly string _src;
    private readonly List<JinjaToken> _tokens = [];
    private int _pos;

    private JinjaLexer(string source)
    {
        // Newlines are normalised to "\n" (in text and string literals alike), and one trailing newline is dropped.
        string s = source.Replace("\r\n", "\n").Replace('\r', '\n');
        _src = s.EndsWith('\n') ? s[..^1] : s;
    }

    /// <summary>The tokens of <paramref name="source"/>, ending with <see cref="JinjaTokenKind.EndOfInput"/>.</summary>
    public static List<JinjaToken> Tokenize(string source)
    {
        var lexer = new JinjaLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private void Run()
    {
        var rightRule = SideRule.None;     // what the previous tag asks of the text after it
        while (_pos < _src.Length)
        {
            int open = FindTagOpen(_pos);
            int textEnd = open < 0 ? _src.Length : open;
            int textStart = _pos;
            if (rightRule == SideRule.StripAll)
                while (textStart < textEnd && char.IsWhiteSpace(_src[textStart])) textStart++;
            else if (rightRule == SideRule.TrimNewline && textStart < textEnd && _src[textStart] == '\n')
                textStart++;
            if (open < 0)
            {
                AddText(textStart, textEnd);
                break;
            }
            char kind = _src[open + 1];
            int inner = open + 2;
            char leftMod = inner < _src.Length && _src[inner] is '-' or '+' ? _src[inner] : '\0';
            if (leftMod != '\0') inner++;
            bool block = kind is '%' or '#';
            if (leftMod == '-')
                while (textEnd > textStart && char.IsWhiteSpace(_src[textEnd - 1])) textEnd--;
            else if (block && leftMod != '+')
                textEnd = LStrip(textStart, textEnd);
            AddText(textStart, textEnd);

            if (kind == '#')
            {
                int close = _src.IndexOf("#}", inner, StringComparison.Ordinal);
                if (close < 0) throw new JinjaException("comment '{#' is never closed with '#}'", PositionOf(open));
                char rightMod = close > inner && _src[close - 1] is '-' or '+' ? _src[close - 1] : '\0';
                rightRule = RightRule(rightMod, block: true);
                _pos = close + 2;
                continue;
            }
            _tokens.Add(new JinjaToken(kind == '{' ? JinjaTokenKind.OutputOpen : JinjaTokenKind.StatementOpen, kind == '{' ? "{{" : "{%", PositionOf(open)));
            _pos = inner;
            char modifier = LexTagBody(kind == '{' ? '}' : '%', open);
            rightRule = RightRule(modifier, block);
        }
        _tokens.Add(new JinjaToken(JinjaTokenKind.EndOfInput, "", PositionOf(_src.Length)));
    }

    private enum SideRule { None, TrimNewline, StripAll }

    private static SideRule RightRule(char modifier, bool block) =>
        modifier == '-' ? SideRule.StripAll : block && modifier != '+' ? SideRule.TrimNewline : SideRule.None;

    /// <summary>lstrip_blocks: the end of the text when the spaces/tabs between the last line start and the tag go.</summary>
    private int LStrip(int start, int end)
    {
        int lineStart = end;
        while (lineStart > start && _src[lineStart - 1] is ' ' or '\t') lineStart--;
        bool atLineStart = lineStart == 0 || _src[lineStart - 1] == '\n';
        return atLineStart ? lineStart : end;
    }

    private int FindTagOpen(int from)
    {
        for (int i = from; i + 1 < _src.Length; i++)
            if (_src[i] == '{' && _src[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    private void AddText(int start, int end)
    {
        if (end > start) _tokens.Add(new JinjaToken(JinjaTokenKind.Text, _src[start..end], PositionOf(start)));
    }

    /// <summary>Lexes expression tokens until the tag's closing "}}" / "%}" (at bracket depth 0); returns the
    /// closing modifier ('-', '+' or '\0').</summary>
    private char LexTagBody(char closer, int tagStart)
    {
        int depth = 0;
        while (true)
        {
            while (_pos < _src.Length && char.IsWhiteSpace(_src[_pos])) _pos++;
            if (_pos >= _src.Length)
                throw new JinjaException($"tag '{_src.Substring(tagStart, 2)}' is never closed with '{closer}}}'", PositionOf(tagStart));
            if (depth == 0)
            {
                foreach (char mod in "-+\0")
                {
                    string end = (mod == '\0' ? "" : mod.ToString()) + closer + "}";
                    if (string.CompareOrdinal(_src, _pos, end, 0, end.Length) != 0) continue;
                    if (mod == '+' && closer == '}') continue;
                    _tokens.Add(new JinjaToken(JinjaTokenKind.TagClose, closer + "}", PositionOf(_pos)));
                    _pos += end.Length;
                    return mod;
                }
            }
            char c = _src[_pos];
            var at = PositionOf(_pos);
            if (char.IsLetter(c) || c == '_')
            {
                int s = _pos;
                while (_pos < _src.Length && (char.IsLetterOrDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
                _tokens.Add(new JinjaToken(JinjaTokenKind.Name, _src[s.._pos], at));
            }
            else if (char.IsAsciiDigit(c))
            {
                _tokens.Add(LexNumber(at));
            }
            else if (c is '\'' or '"')
            {
                _tokens.Add(new JinjaToken(JinjaTokenKind.String, LexString(c, at), at));
            }
            else
            {
                string? op = Operators.FirstOrDefault(o => string.CompareOrdinal(_src, _pos, o, 0, o.Length) == 0)
                    ?? throw new JinjaException($"unexpected character '{c}' inside a tag", at);
                if (op is "(" or "[" or "{") depth++;
                else if (op is ")" or "]" or "}") depth = Math.Max(0, depth - 1);
                _tokens.Add(new JinjaToken(JinjaTokenKind.Operator, op, at));
                _pos += op.Length;
            }
        }
    }

    private JinjaToken LexNumber(SourcePosition at)
    {
        int s = _pos;
        while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
        bool isFloat = _pos + 1 < _src.Length && _src[_pos] == '.' && char.IsAsciiDigit(_src[_pos + 1]);
        if (isFloat)
        {
            _pos++;
            while (_pos < _src.Length && char.IsAsciiDigit(_src[_pos])) _pos++;
        }
        string text = _src[s.._pos].Replace("_", "");
        object value = isFloat ? double.Parse(text, CultureInfo.InvariantCulture) : (object)long.Parse(text, CultureInfo.InvariantCulture);
        return new JinjaToken(JinjaTokenKind.Number, text, at, value);
    }

    /// <summary>A quoted string with Python's escapes (\n \t \r \\ \' \" \uXXXX); an unknown escape keeps its backslash.</summary>
    private string LexString(char quote, SourcePosition at)
    {
        var sb = new StringBuilder();
        _pos++;
        while (true)
        {
            if (_pos >= _src.Length) throw new JinjaException("string literal is never closed", at);
            char c = _src[_pos++];
            if (c == quote) return sb.ToString();
            if (c != '\\' || _pos >= _src.Length)
            {
                sb.Append(c);
                continue;
            }
            char e = _src[_pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case '\n': break;                                  // a backslash-newline continues the line
                case 'u' when _pos + 4 <= _src.Length && int.TryParse(_src.AsSpan(_pos, 4), NumberStyles.HexNumber, null, out int code):
                    sb.Append((char)code);
                    _pos += 4;
                    break;
                default: sb.Append('\\').Append(e); break;
            }
        }
    }

    private SourcePosition PositionOf(int offset)
    {
        int line = 1, lineStart = 0;
        for (int i = 0; i < offset && i < _src.Length; i++)
        {
            if (_src[i] != '\n') continue;
            line++;
            lineStart = i + 1;
        }
        return new SourcePosition(line, offset - lineStart + 1);
    }
}
