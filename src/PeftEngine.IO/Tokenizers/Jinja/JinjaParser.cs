namespace PeftEngine.IO.Tokenizers.Jinja;

/// <summary>
/// Builds the syntax tree of a template from the lexer's tokens by recursive descent, with Jinja's operator
/// precedence (loosest first): <c>x if c else y</c>; <c>or</c>; <c>and</c>; <c>not</c>; comparisons and
/// <c>in</c>/<c>not in</c>; <c>+ -</c>; <c>~</c>; <c>* / // %</c>; <c>**</c>; unary <c>- +</c>; then a primary with
/// its postfixes (<c>.attr</c>, <c>[index]</c>, <c>[a:b]</c>, <c>(call)</c>), filters <c>| f</c> and tests
/// <c>is t</c>. So <c>'a' + x | trim</c> trims only <c>x</c>, as in Jinja.
/// </summary>
/// <remarks>Python equivalent: <c>jinja2.parser.Parser</c>, restricted to what chat templates use. Tags it does
/// not support (macro, call, include, block, ...) are rejected with their name and position.</remarks>
internal sealed class JinjaParser
{
    private static readonly HashSet<string> UnsupportedTags = new(StringComparer.Ordinal)
    {
        "macro", "call", "filter", "include", "import", "from", "extends", "block", "with", "raw", "autoescape", "do", "trans",
    };

    private readonly List<JinjaToken> _tokens;
    private int _i;

    private JinjaParser(List<JinjaToken> tokens) => _tokens = tokens;

    /// <summary>The statements of the template <paramref name="source"/>.</summary>
    public static IReadOnlyList<Stmt> Parse(string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var (body, end) = parser.ParseBody();
        if (end is not null) throw new JinjaException($"'{{% {end.Value.Value} %}}' has no opening tag", end.Value.Position);
        return body;
    }

    private JinjaToken Current => _tokens[_i];

    private JinjaToken Next() => _tokens[_i++];

    private JinjaToken Expect(JinjaTokenKind kind, string? value, string what)
    {
        var t = Current;
        if (t.Kind != kind || (value is not null && t.Value != value))
            throw new JinjaException($"expected {what}, found {Describe(t)}", t.Position);
        return Next();
    }

    private bool Accept(JinjaTokenKind kind, string value)
    {
        if (!Current.Is(kind, value)) return false;
        _i++;
        return true;
    }

    private static string Describe(JinjaToken t) => t.Kind switch
    {
        JinjaTokenKind.EndOfInput => "the end of the template",
        JinjaTokenKind.TagClose => $"'{t.Value}'",
        JinjaTokenKind.String => $"string '{t.Value}'",
        JinjaTokenKind.Text => "template text",
        _ => $"'{t.Value}'",
    };

    // ---- statements ----

    /// <summary>Statements up to the end of input or up to a tag whose keyword is one of <paramref name="terminators"/>;
    /// that tag's "{%" and keyword are consumed and the keyword token is returned (null at the end of input).</summary>
    private (List<Stmt> Body, JinjaToken? End) ParseBody(params string[] terminators)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var t = Next();
            switch (t.Kind)
            {
                case JinjaTokenKind.EndOfInput:
                    if (terminators.Length > 0)
                        throw new JinjaException($"the template ends before '{{% {terminators[^1]} %}}'", t.Position);
                    _i--;
                    return (body, null);
                case JinjaTokenKind.Text:
                    body.Add(new TextStmt(t.Value, t.Position));
                    break;
                case JinjaTokenKind.OutputOpen:
                    var value = ParseExpression();
                    Expect(JinjaTokenKind.TagClose, "}}", "'}}' closing the output tag");
                    body.Add(new OutputStmt(value, t.Position));
                    break;
                case JinjaTokenKind.StatementOpen:
                    var keyword = Expect(JinjaTokenKind.Name, null, "a statement keyword after '{%'");
                    if (terminators.Contains(keyword.Value)) return (body, keyword);
                    body.Add(ParseStatement(keyword));
                    break;
                default:
                    throw new JinjaException($"unexpected {Describe(t)}", t.Position);
            }
        }
    }

    private Stmt ParseStatement(JinjaToken keyword)
    {
        switch (keyword.Value)
        {
            case "if": return ParseIf(keyword);
            case "for": return ParseFor(keyword);
            case "set": return ParseSet(keyword);
            case "break":
            case "continue":
                Expect(JinjaTokenKind.TagClose, "%}", $"'%}}' after '{keyword.Value}'");
                return new LoopControlStmt(keyword.Value == "break", keyword.Position);
            case "generation":
                Expect(JinjaTokenKind.TagClose, "%}", "'%}' after 'generation'");
                var (body, _) = ParseBody("endgeneration");
                Expect(JinjaTokenKind.TagClose, "%}", "'%}' after 'endgeneration'");
                return new GenerationStmt(body, keyword.Position);
            default:
                if (UnsupportedTags.Contains(keyword.Value))
                    throw new JinjaException($"the '{{% {keyword.Value} %}}' tag is not supported", keyword.Position);
                throw new JinjaException($"unknown or misplaced tag '{{% {keyword.Value} %}}'", keyword.Position);
        }
    }

    private IfStmt ParseIf(JinjaToken keyword)
    {
        var branches = new List<(Expr, IReadOnlyList<Stmt>)>();
        List<Stmt>? otherwise = null;
        var condition = ParseExpression();
        while (true)
        {
            Expect(JinjaTokenKind.TagClose, "%}", "'%}' after the condition");
            var (body, end) = ParseBody("elif", "else", "endif");
            branches.Add((condition, body));
            if (end!.Value.Value == "elif")
            {
                condition = ParseExpression();
                continue;
            }
            if (end.Value.Value == "else")
            {
                Expect(JinjaTokenKind.TagClose, "%}", "'%}' after 'else'");
                (otherwise, _) = ParseBody("endif");
            }
            Expect(JinjaTokenKind.TagClose, "%}", "'%}' after 'endif'");
            return new IfStmt(branches, otherwise, keyword.Position);
        }
    }

    private ForStmt ParseFor(JinjaToken keyword)
    {
        var targets = ParseNames();
        Expect(JinjaTokenKind.Name, "in", "'in' in the for tag");
        var items = ParseExpression(allowConditional: false);
        Expr? filter = Accept(JinjaTokenKind.Name, "if") ? ParseExpression() : null;
        if (Current.IsName("recursive")) throw new JinjaException("recursive for loops are not supported", Current.Position);
        Expect(JinjaTokenKind.TagClose, "%}", "'%}' closing the for tag");
        var (body, end) = ParseBody("else", "endfor");
        List<Stmt>? otherwise = null;
        if (end!.Value.Value == "else")
        {
            Expect(JinjaTokenKind.TagClose, "%}", "'%}' after 'else'");
            (otherwise, _) = ParseBody("endfor");
        }
        Expect(JinjaTokenKind.TagClose, "%}", "'%}' after 'endfor'");
        return new ForStmt(targets, items, filter, body, otherwise, keyword.Position);
    }

    private Stmt ParseSet(JinjaToken keyword)
    {
        var targets = ParseNames();
        string? attribute = null;
        if (targets.Count == 1 && Accept(JinjaTokenKind.Operator, "."))
            attribute = Expect(JinjaTokenKind.Name, null, "an attribute name after '.'").Value;
        if (Accept(JinjaTokenKind.Operator, "="))
        {
            var value = ParseExpression();
            Expect(JinjaTokenKind.TagClose, "%}", "'%}' closing the set tag");
            return new SetStmt(targets, attribute, value, keyword.Position);
        }
        if (targets.Count != 1 || attribute is not null)
            throw new JinjaException($"expected '=' in the set tag, found {Describe(Current)}", Current.Position);
        Expect(JinjaTokenKind.TagClose, "%}", "'=' or '%}' in the set tag");
        var (body, _) = ParseBody("endset");
        Expect(JinjaTokenKind.TagClose, "%}", "'%}' after 'endset'");
        return new SetBlockStmt(targets[0], body, keyword.Position);
    }

    /// <summary>One name or a comma-separated list of names (optionally in parentheses).</summary>
    private List<string> ParseNames()
    {
        bool paren = Accept(JinjaTokenKind.Operator, "(");
        var names = new List<string> { Expect(JinjaTokenKind.Name, null, "a variable name").Value };
        while (Accept(JinjaTokenKind.Operator, ","))
            names.Add(Expect(JinjaTokenKind.Name, null, "a variable name after ','").Value);
        if (paren) Expect(JinjaTokenKind.Operator, ")", "')'");
        return names;
    }

    // ---- expressions, loosest binding first ----

    private Expr ParseExpression(bool allowConditional = true)
    {
        var expr = ParseOr();
        while (allowConditional && Current.IsName("if"))
        {
            var at = Next().Position;
            var condition = ParseOr();
            Expr? otherwise = Accept(JinjaTokenKind.Name, "else") ? ParseExpression() : null;
            expr = new ConditionalExpr(condition, expr, otherwise, at);
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var at = Next().Position;
            left = new LogicalExpr("or", left, ParseAnd(), at);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var at = Next().Position;
            left = new LogicalExpr("and", left, ParseNot(), at);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (!Current.IsName("not")) return ParseComparison();
        var at = Next().Position;
        return new UnaryExpr("not", ParseNot(), at);
    }

    /// <summary>Comparisons; a chain <c>a &lt; b &lt; c</c> means <c>a &lt; b and b &lt; c</c>.</summary>
    private Expr ParseComparison()
    {
        var left = ParseAdditive();
        Expr? result = null;
        while (true)
        {
            var t = Current;
            string? op = t.Kind == JinjaTokenKind.Operator && t.Value is "==" or "!=" or "<" or ">" or "<=" or ">=" ? t.Value
                : t.IsName("in") ? "in"
                : t.IsName("not") && _tokens[_i + 1].IsName("in") ? "not in"
                : null;
            if (op is null) return result ?? left;
            _i += op == "not in" ? 2 : 1;
            var right = ParseAdditive();
            var comparison = new BinaryExpr(op, left, right, t.Position);
            result = result is null ? comparison : new LogicalExpr("and", result, comparison, t.Position);
            left = right;
        }
    }

    private Expr ParseAdditive() => ParseLeftAssociative(ParseConcat, "+", "-");

    private Expr ParseConcat() => ParseLeftAssociative(ParseMultiplicative, "~");

    private Expr ParseMultiplicative() => ParseLeftAssociative(ParsePower, "*", "/", "//", "%");

    private Expr ParsePower() => ParseLeftAssociative(() => ParseUnary(withFilters: true), "**");

    /// <summary><c>operand (op operand)*</c> for the operators <paramref name="ops"/>, grouped from the left.</summary>
    private Expr ParseLeftAssociative(Func<Expr> operand, params string[] ops)
    {
        var left = operand();
        while (Current.Kind == JinjaTokenKind.Operator && ops.Contains(Current.Value))
        {
            var t = Next();
            left = new BinaryExpr(t.Value, left, operand(), t.Position);
        }
        return left;
    }

    private Expr ParseUnary(bool withFilters)
    {
        Expr expr;
        if (Current.Kind == JinjaTokenKind.Operator && Current.Value is "-" or "+")
        {
            var t = Next();
            expr = new UnaryExpr(t.Value, ParseUnary(withFilters: false), t.Position);
        }
        else
        {
            expr = ParsePrimary();
        }
        expr = ParsePostfix(expr);
        return withFilters ? ParseFiltersAndTests(expr) : expr;
    }

    private Expr ParsePrimary()
    {
        var t = Next();
        switch (t.Kind)
        {
            case JinjaTokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, t.Position),
                    "false" or "False" => new LiteralExpr(false, t.Position),
                    "none" or "None" => new LiteralExpr(null, t.Position),
                    _ => new NameExpr(t.Value, t.Position),
                };
            case JinjaTokenKind.String:
                string s = t.Value;
                while (Current.Kind == JinjaTokenKind.String) s += Next().Value;   // adjacent literals join, as in Python
                return new LiteralExpr(s, t.Position);
            case JinjaTokenKind.Number:
                return new LiteralExpr(t.Literal, t.Position);
            case JinjaTokenKind.Operator when t.Value == "(":
            {
                var items = ParseSequence(")", out bool trailingComma);
                return items.Count == 1 && !trailingComma ? items[0] : new ListExpr(items, t.Position);
            }
            case JinjaTokenKind.Operator when t.Value == "[":
                return new ListExpr(ParseSequence("]", out _), t.Position);
            case JinjaTokenKind.Operator when t.Value == "{":
            {
                var pairs = new List<(Expr, Expr)>();
                while (!Accept(JinjaTokenKind.Operator, "}"))
                {
                    if (pairs.Count > 0) Expect(JinjaTokenKind.Operator, ",", "',' between dict items");
                    if (Accept(JinjaTokenKind.Operator, "}")) break;
                    var key = ParseExpression();
                    Expect(JinjaTokenKind.Operator, ":", "':' after a dict key");
                    pairs.Add((key, ParseExpression()));
                }
                return new DictExpr(pairs, t.Position);
            }
            default:
                throw new JinjaException($"expected a value, found {Describe(t)}", t.Position);
        }
    }

    /// <summary>Comma-separated expressions up to <paramref name="close"/> (consumed).</summary>
    private List<Expr> ParseSequence(string close, out bool trailingComma)
    {
        var items = new List<Expr>();
        trailingComma = false;
        while (!Accept(JinjaTokenKind.Operator, close))
        {
            if (items.Count > 0)
            {
                Expect(JinjaTokenKind.Operator, ",", $"',' or '{close}'");
                trailingComma = true;
                if (Accept(JinjaTokenKind.Operator, close)) break;
            }
            items.Add(ParseExpression());
            trailingComma = false;
        }
        return items;
    }

    private Expr ParsePostfix(Expr expr)
    {
        while (true)
        {
            var t = Current;
            if (t.IsOperator("."))
            {
                _i++;
                var name = Next();
                if (name.Kind is not (JinjaTokenKind.Name or JinjaTokenKind.Number))
                    throw new JinjaException($"expected an attribute name after '.', found {Describe(name)}", name.Position);
                expr = name.Kind == JinjaTokenKind.Number
                    ? new IndexExpr(expr, new LiteralExpr(name.Literal, name.Position), t.Position)
                    : new AttributeExpr(expr, name.Value, t.Position);
            }
            else if (t.IsOperator("["))
            {
                _i++;
                expr = ParseSubscript(expr, t.Position);
            }
            else if (t.IsOperator("("))
            {
                expr = ParseCall(expr);
            }
            else
            {
                return expr;
            }
        }
    }

    private Expr ParseSubscript(Expr target, SourcePosition at)
    {
        Expr? start = Current.IsOperator(":") ? null : ParseExpression();
        if (Accept(JinjaTokenKind.Operator, "]"))
            return new IndexExpr(target, start ?? throw new JinjaException("empty subscript '[]'", at), at);
        Expect(JinjaTokenKind.Operator, ":", "']' or ':' in a subscript");
        Expr? stop = Current.IsOperator(":") || Current.IsOperator("]") ? null : ParseExpression();
        Expr? step = null;
        if (Accept(JinjaTokenKind.Operator, ":") && !Current.IsOperator("]")) step = ParseExpression();
        Expect(JinjaTokenKind.Operator, "]", "']' closing the slice");
        return new SliceExpr(target, start, stop, step, at);
    }

    private CallExpr ParseCall(Expr callee)
    {
        var open = Expect(JinjaTokenKind.Operator, "(", "'('");
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!Accept(JinjaTokenKind.Operator, ")"))
        {
            if (args.Count + kwargs.Count > 0)
            {
                Expect(JinjaTokenKind.Operator, ",", "',' or ')' in the argument list");
                if (Accept(JinjaTokenKind.Operator, ")")) break;
            }
            if (Current.IsOperator("*") || Current.IsOperator("**"))
                throw new JinjaException("*args and **kwargs in calls are not supported", Current.Position);
            if (Current.Kind == JinjaTokenKind.Name && _tokens[_i + 1].IsOperator("="))
            {
                string name = Next().Value;
                _i++;
                kwargs.Add((name, ParseExpression()));
            }
            else
            {
                if (kwargs.Count > 0) throw new JinjaException("a positional argument follows a keyword argument", Current.Position);
                args.Add(ParseExpression());
            }
        }
        return new CallExpr(callee, args, kwargs, open.Position);
    }

    private Expr ParseFiltersAndTests(Expr expr)
    {
        while (true)
        {
            if (Current.IsOperator("|"))
            {
                var bar = Next();
                string name = Expect(JinjaTokenKind.Name, null, "a filter name after '|'").Value;
                var call = Current.IsOperator("(") ? ParseCall(new NameExpr(name, bar.Position)) : null;
                expr = new FilterExpr(expr, name, call?.Args ?? [], call?.Kwargs ?? [], bar.Position);
            }
            else if (Current.IsName("is"))
            {
                var at = Next().Position;
                bool negated = Accept(JinjaTokenKind.Name, "not");
                var nameToken = Next();
                if (nameToken.Kind != JinjaTokenKind.Name && !(nameToken.Kind == JinjaTokenKind.Operator && nameToken.Value is "==" or "!="))
                    throw new JinjaException($"expected a test name after 'is', found {Describe(nameToken)}", nameToken.Position);
                string name = nameToken.Value switch { "none" or "None" => "none", "true" or "True" => "true", "false" or "False" => "false", var n => n };
                List<Expr> args = [];
                if (Current.IsOperator("(")) args = [.. ParseCall(new NameExpr(name, at)).Args];
                else if (Current.Kind is JinjaTokenKind.Number or JinjaTokenKind.String) args = [ParsePrimary()];
                expr = new TestExpr(expr, name, args, negated, at);
            }
            else if (Current.IsOperator("("))
            {
                expr = ParseCall(expr);
            }
            else
            {
                return expr;
            }
        }
    }
}
