using PeftEngine.IO.Tokenizers.Jinja;

namespace PeftEngine.Tests.Tokenizers;

/// <summary>The Jinja subset: whitespace control, loops, scoping, operators, filters, methods, tests and errors.
/// Expected strings follow Jinja's documented semantics under trim_blocks and lstrip_blocks.</summary>
public class JinjaTemplateTests
{
    private static string Render(string template, object? vars = null)
    {
        var variables = new Dictionary<string, object?>();
        if (vars is IReadOnlyDictionary<string, object?> d) foreach (var (k, v) in d) variables[k] = v;
        return JinjaTemplate.Parse(template).Render(variables);
    }

    [Fact]
    public void WhitespaceControl_MinusStripsAllWhitespaceOnItsSide()
    {
        Assert.Equal("abc", Render("a  {%- if true -%}  b  {%- endif -%}  c"));
        Assert.Equal("a b", Render("a {{- ' ' -}} \n b"));
        Assert.Equal("a\n b", Render("a\n {{ 'b' }}"));                      // output tags keep the text around them
    }

    [Fact]
    public void TrimAndLstripBlocks_DropTheNewlineAfterABlockAndTheIndentBeforeIt()
    {
        Assert.Equal("x\n    y\nz", Render("x\n    {% if true %}\n    y\n    {% endif %}\nz"));
        Assert.Equal("  x", Render("  {%+ if true %}x{% endif %}"));          // '+' keeps the indentation
        Assert.Equal("ab", Render("a{# a comment #}\nb"));                    // comments are trimmed like blocks
        Assert.Equal("a  b", Render("a  {% if true %}b{% endif %}"));        // not at a line start: kept
        Assert.Equal("line", Render("line\n"));                               // one trailing newline is dropped
        Assert.Equal("line\n", Render("line\n\n"));
        Assert.Equal("a\nb", Render("a\r\nb"));
    }

    [Fact]
    public void ForLoop_LoopVariablesElseFilterBreakAndUnpacking()
    {
        Assert.Equal("0aF,1b,2cL", Render("{% for x in ['a','b','c'] %}{{ loop.index0 }}{{ x }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %}{% if not loop.last %},{% endif %}{% endfor %}"));
        Assert.Equal("1/3 2/2 3/1 ", Render("{% for x in 'xyz' %}{{ loop.index }}/{{ loop.revindex }} {% endfor %}"));
        Assert.Equal("empty", Render("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}"));
        Assert.Equal("2:1 4:2 ", Render("{% for x in [1,2,3,4] if x % 2 == 0 %}{{ x }}:{{ loop.index }} {% endfor %}"));
        Assert.Equal("13", Render("{% for x in [1,2,3,4,5] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"));
        Assert.Equal("a=1;b=2;", Render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"));
        Assert.Equal("[-b][a-]", Render("{% for x in ['a', 'b'] %}[{{ loop.previtem | default('-') }}{{ loop.nextitem | default('-') }}]{% endfor %}"));
        Assert.Equal("", Render("{% for x in missing %}{{ x }}{% endfor %}"));        // undefined iterates as empty
    }

    [Fact]
    public void Set_IsScopedToTheLoopIterationButNamespaceAttributesCarryOut()
    {
        Assert.Equal("1", Render("{% set x = 1 %}{% for i in [1,2] %}{% set x = i %}{% endfor %}{{ x }}"));
        Assert.Equal("2", Render("{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}"));
        Assert.Equal("4", Render("{% set ns = namespace(x=1) %}{% for i in [1,2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}"));
        Assert.Equal("[a]", Render("{% set body %}a{% endset %}[{{ body }}]"));
        Assert.Equal("3 4", Render("{% set a, b = [3, 4] %}{{ a }} {{ b }}"));
        var ex = Assert.Throws<JinjaException>(() => Render("{% set x = 1 %}{% set x.y = 2 %}"));
        Assert.Contains("namespace", ex.Message);
    }

    [Fact]
    public void Operators_FollowPythonAndJinjaPrecedence()
    {
        Assert.Equal("7", Render("{{ 1 + 2 * 3 }}"));
        Assert.Equal("3,-4,1,2,3.5,8,2.0", Render("{{ 7 // 2 }},{{ -7 // 2 }},{{ 7 % 3 }},{{ -7 % 3 }},{{ 7 / 2 }},{{ 2 ** 3 }},{{ 1 + 1.0 }}"));
        Assert.Equal("a1None", Render("{{ 'a' ~ 1 ~ none }}"));
        Assert.Equal("abab", Render("{{ 'ab' * 2 }}"));
        Assert.Equal("TrueTrueFalse", Render("{{ 'b' in 'abc' }}{{ 3 not in [1,2] }}{{ 'k' in {'a': 1} }}"));
        Assert.Equal("True False", Render("{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }}"));
        Assert.Equal("n|x|z|False", Render("{{ 'y' if 0 else 'n' }}|{{ true and 'x' }}|{{ 0 or '' or 'z' }}|{{ not 'q' }}"));
        Assert.Equal("None||True", Render("{{ none }}|{{ undefined_variable }}|{{ (1 == 1.0) and ('a' != 'b') and (true == 1) }}"));
        Assert.Equal("x-TRIMMED!", Render("{{ 'x-' + '  trimmed ' | trim | upper + '!' }}"));   // the filter binds tighter than +
        Assert.Equal("[1, 2, 3]|{'a': 'b'}|True", Render("{{ [1] + [2, 3] }}|{{ {'a': 'b'} }}|{{ [1, (2)] == [1, 2] }}"));
        Assert.Equal("-3", Render("{{ -(1 + 2) }}"));
    }

    [Fact]
    public void AttributeIndexAndSliceAccess()
    {
        var vars = new Dictionary<string, object?>
        {
            ["message"] = new Dictionary<string, object?> { ["role"] = "user", ["content"] = "hi", ["items"] = "own key" },
            ["xs"] = new List<object?> { 1, 2, 3, 4 },
        };
        Assert.Equal("user|hi|user||own key", Render("{{ message.role }}|{{ message['content'] }}|{{ message['ro' ~ 'le'] }}|{{ message.missing }}|{{ message['items'] }}", vars));
        Assert.Equal("[2, 3, 4]|[1, 2]|[4, 3, 2, 1]|4|olleh|ell|", Render("{{ xs[1:] }}|{{ xs[:-2] }}|{{ xs[::-1] }}|{{ xs[-1] }}|{{ 'hello'[::-1] }}|{{ 'hello'[1:4] }}|{{ xs[10] }}", vars));
        Assert.Equal("3", Render("{{ xs.2 }}", vars));
        var ex = Assert.Throws<JinjaException>(() => Render("{{ foo.bar }}"));
        Assert.Contains("'foo' is undefined", ex.Message);
    }

    [Fact]
    public void Filters()
    {
        Assert.Equal("hi|3|3|2", Render("{{ '  hi \n' | trim }}|{{ [1,2,3] | length }}|{{ 'abc' | length }}|{{ {'a': 1, 'b': 2} | count }}"));
        Assert.Equal("{\"a\": [1, \"x\\\"y\\n\"], \"b\": null, \"c\": true, \"d\": 1.5, \"é\": \"ü\"}",
            Render("{{ {'a': [1, 'x\"y\\n'], 'b': none, 'c': true, 'd': 1.5, 'é': 'ü'} | tojson }}"));
        Assert.Equal("{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}", Render("{{ {'a': [1, 2], 'b': {}} | tojson(indent=2) }}"));
        Assert.Equal("x|fallback||d", Render("{{ 'x' | default('fallback') }}|{{ nothing | default('fallback') }}|{{ '' | default('d') }}|{{ '' | default('d', true) }}"));
        Assert.Equal("a, b|1|3|HI|Hi there|cba|12", Render("{{ ['a', 'b'] | join(', ') }}|{{ [1, 2, 3] | first }}|{{ [1, 2, 3] | last }}|{{ 'hi' | upper }}|{{ 'hI THERE' | capitalize }}|{{ 'abc' | reverse }}|{{ '12' | int }}"));
        var ex = Assert.Throws<JinjaException>(() => Render("{{ 'x' | wordcount }}"));
        Assert.Contains("filter 'wordcount' is not supported", ex.Message);
        Assert.Equal(new SourcePosition(1, 8), ex.Position);
    }

    [Fact]
    public void StringAndDictMethodsAndTests()
    {
        Assert.Equal("x|True|False|['a', 'b']|HI|a-b|xx", Render("{{ ' x '.strip() }}|{{ 'hello'.startswith('he') }}|{{ 'hello'.endswith(('x', 'y')) }}|{{ 'a,b'.split(',') }}|{{ 'Hi'.upper() }}|{{ '-'.join(['a', 'b']) }}|{{ '..xx..'.strip('.') }}"));
        Assert.Equal("['a', 'b']|1|none", Render("{{ ' a  b '.split() }}|{{ {'k': 1}.get('k') }}|{{ {'k': 1}.get('z', 'none') }}"));
        Assert.Equal("FalseTrueTrueFalseTrueTrue", Render("{{ x is defined }}{{ none is none }}{{ 'a' is string }}{{ 3 is not odd }}{{ {} is mapping }}{{ 4 is divisibleby 2 }}"));
    }

    [Fact]
    public void Errors_NameTheConstructAndItsPosition()
    {
        var macro = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse("{% macro f() %}{% endmacro %}"));
        Assert.Contains("'{% macro %}' tag is not supported", macro.Message);
        Assert.Equal(new SourcePosition(1, 4), macro.Position);

        var missing = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse("{% if true %}x"));
        Assert.Contains("ends before '{% endif %}'", missing.Message);

        var value = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse("a\n{{ 1 + }}"));
        Assert.Contains("expected a value, found '}}'", value.Message);
        Assert.Equal(new SourcePosition(2, 8), value.Position);
        Assert.Contains("line 2, column 8", value.Message);

        var stray = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse("x{% endfor %}"));
        Assert.Contains("endfor", stray.Message);

        var character = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse("{{ a ? b }}"));
        Assert.Contains("unexpected character '?'", character.Message);

        var raised = Assert.Throws<JinjaException>(() => Render("{% if true %}{{ raise_exception('no system role') }}{% endif %}"));
        Assert.True(raised.RaisedByTemplate);
        Assert.Contains("no system role", raised.Message);

        var type = Assert.Throws<JinjaException>(() => Render("{{ 'a' + 1 }}"));
        Assert.Contains("cannot combine str and int", type.Message);
        var undefinedOperand = Assert.Throws<JinjaException>(() => Render("{{ 'a' + nothing }}"));
        Assert.Contains("'nothing' is undefined", undefinedOperand.Message);
    }
}
