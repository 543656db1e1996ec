using System.Text;

namespace PeftEngine.IO.Tokenizers.Jinja;

/// <summary>
/// Renders a parsed template: walks the statements, appending text to the output, and evaluates expressions with
/// Python semantics (<see cref="JinjaValues"/>). Scoping follows Jinja: each iteration of a for loop has its own
/// scope, so a <c>{% set %}</c> inside a loop does not leak out of it (a <c>namespace()</c> attribute does);
/// <c>if</c> blocks share the enclosing scope.
/// </summary>
/// <remarks>Python equivalent: rendering a compiled <c>jinja2.Template</c>.</remarks>
internal sealed class JinjaEvaluator
{
    /// <summary>Variables of one scope, chained to the enclosing one.</summary>
    private sealed class Scope(Scope? parent)
    {
        private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);

        public object? Lookup(string name)
        {
            for (var s = this; s is not null; s = s.Parent)
                if (s._vars.TryGetValue(name, out var v)) return v;
            return new JinjaUndefined($"'{name}'");
        }

        public void Set(string name, object? value) => _vars[name] = value;

        private Scope? Parent { get; } = parent;
    }

    private enum Flow { Normal, Break, Continue }

    private int _loopDepth;

    /// <summary>Renders <paramref name="template"/> with <paramref name="variables"/> (converted by
    /// <see cref="JinjaValues.FromClr"/>) on top of the built-in globals.</summary>
    public static string Render(IReadOnlyList<Stmt> template, IReadOnlyDictionary<string, object?> variables)
    {
        var globals = new Scope(null);
        foreach (var (name, fn) in JinjaBuiltins.Globals()) globals.Set(name, fn);
        var scope = new Scope(globals);
        foreach (var (name, value) in variables) scope.Set(name, JinjaValues.FromClr(value));
        var output = new StringBuilder();
        new JinjaEvaluator().Execute(template, scope, output);
        return output.ToString();
    }

    // ---- statements ----

    private Flow Execute(IReadOnlyList<Stmt> body, Scope scope, StringBuilder output)
    {
        foreach (var stmt in body)
        {
            var flow = Flow.Normal;
            switch (stmt)
            {
                case TextStmt t:
                    output.Append(t.Text);
                    break;
                case OutputStmt o:
                    output.Append(JinjaValues.ToText(Evaluate(o.Value, scope)));
                    break;
                case IfStmt i:
                    var branch = i.Branches.FirstOrDefault(b => JinjaValues.IsTrue(Evaluate(b.Condition, scope))).Body ?? i.Else;
                    if (branch is not null) flow = Execute(branch, scope, output);
                    break;
                case ForStmt f:
                    ExecuteFor(f, scope, output);
                    break;
                case SetStmt s:
                    Assign(s, Evaluate(s.Value, scope), scope);
                    break;
                case SetBlockStmt b:
                    var captured = new StringBuilder();
                    flow = Execute(b.Body, scope, captured);
                    scope.Set(b.Target, captured.ToString());
                    break;
                case LoopControlStmt c:
                    if (_loopDepth == 0) throw new JinjaException($"'{(c.IsBreak ? "break" : "continue")}' outside a for loop", c.At);
                    return c.IsBreak ? Flow.Break : Flow.Continue;
                case GenerationStmt g:
                    flow = Execute(g.Body, scope, output);
                    break;
                default:
                    throw new JinjaException($"statement {stmt.GetType().Name} cannot be rendered", stmt.At);
            }
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private void ExecuteFor(ForStmt f, Scope scope, StringBuilder output)
    {
        var items = JinjaValues.Iterate(Evaluate(f.Items, scope), f.Items.At);
        if (f.Filter is { } filter)
        {
            items = items.Where(item =>
            {
                var s = new Scope(scope);
                Bind(f.Targets, item, s, f.At);
                return JinjaValues.IsTrue(Evaluate(filter, s));
            }).ToList();
        }
        if (items.Count == 0)
        {
            if (f.Else is not null) Execute(f.Else, scope, output);
            return;
        }
        _loopDepth++;
        try
        {
            for (int i = 0; i < items.Count; i++)
            {
                var s = new Scope(scope);
                Bind(f.Targets, items[i], s, f.At);
                s.Set("loop", LoopVariable(items, i));
                if (Execute(f.Body, s, output) == Flow.Break) break;
            }
        }
        finally
        {
            _loopDepth--;
        }
    }

    /// <summary>The <c>loop</c> object of iteration <paramref name="i"/>.</summary>
    private static Dictionary<string, object?> LoopVariable(IReadOnlyList<object?> items, int i) => new(StringComparer.Ordinal)
    {
        ["index"] = (long)(i + 1),
        ["index0"] = (long)i,
        ["revindex"] = (long)(items.Count - i),
        ["revindex0"] = (long)(items.Count - i - 1),
        ["first"] = i == 0,
        ["last"] = i == items.Count - 1,
        ["length"] = (long)items.Count,
        ["depth"] = 1L,
        ["depth0"] = 0L,
        ["previtem"] = i > 0 ? items[i - 1] : new JinjaUndefined("loop.previtem"),
        ["nextitem"] = i + 1 < items.Count ? items[i + 1] : new JinjaUndefined("loop.nextitem"),
        ["cycle"] = (JinjaCallable)((args, _, at) => args.Count > 0 ? args[i % args.Count] : throw new JinjaException("loop.cycle() needs arguments", at)),
    };

    private void Assign(SetStmt s, object? value, Scope scope)
    {
        if (s.Attribute is { } attribute)
        {
            if (scope.Lookup(s.Targets[0]) is not JinjaNamespace ns)
                throw new JinjaException($"'{s.Targets[0]}.{attribute}' can only be set when '{s.Targets[0]}' is a namespace()", s.At);
            ns.Values[attribute] = value;
            return;
        }
        Bind(s.Targets, value, scope, s.At);
    }

    /// <summary>Binds one name, or unpacks a sequence into several.</summary>
    private static void Bind(IReadOnlyList<string> targets, object? value, Scope scope, SourcePosition at)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], value);
            return;
        }
        var items = JinjaValues.Iterate(value, at);
        if (items.Count != targets.Count)
            throw new JinjaException($"cannot unpack {items.Count} values into {targets.Count} names ({string.Join(", ", targets)})", at);
        for (int i = 0; i < targets.Count; i++) scope.Set(targets[i], items[i]);
    }

    // ---- expressions ----

    private object? Evaluate(Expr expr, Scope scope)
    {
        switch (expr)
        {
            case LiteralExpr l: return l.Value;
            case NameExpr n: return scope.Lookup(n.Name);
            case ListExpr l: return l.Items.Select(e => Evaluate(e, scope)).ToList();
            case DictExpr d:
                var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (k, v) in d.Items)
                    dict[Evaluate(k, scope) as string ?? throw new JinjaException("dict keys must be strings", k.At)] = Evaluate(v, scope);
                return dict;
            case AttributeExpr a: return JinjaAccess.Attribute(Evaluate(a.Target, scope), a.Name, a.At);
            case IndexExpr i: return JinjaAccess.Item(Evaluate(i.Target, scope), Evaluate(i.Key, scope), i.At);
            case SliceExpr s:
                return JinjaAccess.Slice(Evaluate(s.Target, scope), EvaluateOptional(s.Start, scope), EvaluateOptional(s.Stop, scope), EvaluateOptional(s.Step, scope), s.At);
            case CallExpr c:
                var callee = Evaluate(c.Callee, scope);
                if (callee is not JinjaCallable fn)
                    throw new JinjaException(callee is JinjaUndefined u ? $"{u.What} is undefined and cannot be called" : $"a {JinjaValues.TypeName(callee)} value cannot be called", c.At);
                return fn(Arguments(c.Args, scope), Keywords(c.Kwargs, scope), c.At);
            case FilterExpr f:
                return JinjaBuiltins.Filter(f.Name, Evaluate(f.Value, scope), Arguments(f.Args, scope), Keywords(f.Kwargs, scope), f.At);
            case TestExpr t:
                return JinjaBuiltins.Test(t.Name, Evaluate(t.Value, scope), Arguments(t.Args, scope), t.At) != t.Negated;
            case UnaryExpr u:
                var operand = Evaluate(u.Operand, scope);
                if (u.Op == "not") return !JinjaValues.IsTrue(operand);
                return JinjaOperators.Negate(operand, u.Op == "-", u.At);
            case LogicalExpr l:
                var left = Evaluate(l.Left, scope);
                bool leftTrue = JinjaValues.IsTrue(left);
                return (l.Op == "and" ? !leftTrue : leftTrue) ? left : Evaluate(l.Right, scope);
            case ConditionalExpr c:
                return JinjaValues.IsTrue(Evaluate(c.Condition, scope)) ? Evaluate(c.Then, scope)
                    : c.Else is null ? new JinjaUndefined("the missing else branch") : Evaluate(c.Else, scope);
            case BinaryExpr b:
                return JinjaOperators.Apply(b.Op, Evaluate(b.Left, scope), Evaluate(b.Right, scope), b.At);
            default:
                throw new JinjaException($"expression {expr.GetType().Name} cannot be evaluated", expr.At);
        }
    }

    private object? EvaluateOptional(Expr? expr, Scope scope) => expr is null ? null : Evaluate(expr, scope);

    private List<object?> Arguments(IReadOnlyList<Expr> args, Scope scope) => args.Select(a => Evaluate(a, scope)).ToList();

    private Dictionary<string, object?> Keywords(IReadOnlyList<(string Name, Expr Value)> kwargs, Scope scope) =>
        kwargs.ToDictionary(k => k.Name, k => Evaluate(k.Value, scope), StringComparer.Ordinal);
}
