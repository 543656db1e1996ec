namespace PeftEngine.IO.Tokenizers.Jinja;

/// <summary>
/// A parsed Jinja template, the language of Hugging Face chat templates (<c>chat_template</c> in
/// tokenizer_config.json, <c>tokenizer.chat_template</c> in GGUF). Supports the subset chat templates use:
/// <c>{{ expr }}</c>; <c>{% if/elif/else %}</c>; <c>{% for x in xs [if cond] %}</c> with <c>loop.index0</c>,
/// <c>loop.first</c>, <c>loop.last</c> and the rest of <c>loop</c>; <c>{% set %}</c> (also <c>ns.attr</c> of a
/// <c>namespace()</c> and the block form); <c>break</c>/<c>continue</c>; whitespace control (<c>{%-</c>,
/// <c>-%}</c>, trim_blocks, lstrip_blocks); literals, lists and dicts; <c>+ - * / // % ** ~</c>, comparisons,
/// <c>and/or/not</c>, <c>in</c>, <c>x if c else y</c>; attribute, index and slice access; filters (trim, length,
/// tojson, default, join, upper, lower, ...), tests (defined, none, string, ...), string and dict methods
/// (<c>.strip()</c>, <c>.startswith()</c>, <c>.items()</c>, ...), and <c>raise_exception('...')</c>.
/// Unsupported syntax is a <see cref="JinjaException"/> naming the construct and its line and column.
/// </summary>
/// <remarks>Python equivalent: <c>jinja2.Environment(trim_blocks=True, lstrip_blocks=True).from_string(source)</c>
/// as transformers' <c>apply_chat_template</c> builds it. Macros, includes, template inheritance and most filters
/// are not supported.</remarks>
public sealed class JinjaTemplate
{
    private readonly IReadOnlyList<Stmt> _body;

    private JinjaTemplate(string source, IReadOnlyList<Stmt> body)
    {
        Source = source;
        _body = body;
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>Parses <paramref name="source"/>; syntax errors are thrown here, with their position.</summary>
    public static JinjaTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new JinjaTemplate(source, JinjaParser.Parse(source));
    }

    /// <summary>Renders the template. Values may be strings, numbers, bools, null, lists (any IEnumerable),
    /// dictionaries with string keys, <see cref="ChatMessage"/>s and JsonElements.</summary>
    public string Render(IReadOnlyDictionary<string, object?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        return JinjaEvaluator.Render(_body, variables);
    }
}
