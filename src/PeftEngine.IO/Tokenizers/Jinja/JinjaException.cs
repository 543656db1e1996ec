namespace PeftEngine.IO.Tokenizers.Jinja;

/// <summary>A position in a template's source: 1-based line and column.</summary>
/// <param name="Line">Line number, from 1.</param>
/// <param name="Column">Column number, from 1.</param>
public readonly record struct SourcePosition(int Line, int Column)
{
    /// <summary>"line L, column C".</summary>
    public override string ToString() => $"line {Line}, column {Column}";
}

/// <summary>
/// An error in a Jinja template: syntax the renderer does not understand or does not support, an expression that
/// fails while rendering, or a <c>raise_exception(...)</c> call made by the template itself. The message names the
/// construct and where it is in the template.
/// </summary>
/// <remarks>Python equivalent: <c>jinja2.TemplateSyntaxError</c> / <c>TemplateError</c> (and transformers'
/// <c>TemplateError</c> raised by <c>raise_exception</c>).</remarks>
public sealed class JinjaException : Exception
{
    /// <summary>Creates the error; the position is appended to the message.</summary>
    public JinjaException(string message, SourcePosition position, bool raisedByTemplate = false)
        : base($"chat template: {message} (at {position})")
    {
        Position = position;
        RaisedByTemplate = raisedByTemplate;
    }

    /// <summary>Where in the template source the problem is.</summary>
    public SourcePosition Position { get; }

    /// <summary>True when the template itself refused the input with <c>raise_exception(...)</c>.</summary>
    public bool RaisedByTemplate { get; }
}
