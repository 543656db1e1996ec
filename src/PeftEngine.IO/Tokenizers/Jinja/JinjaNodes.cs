namespace PeftEngine.IO.Tokenizers.Jinja;

// The syntax tree the parser builds and the evaluator walks. Every node remembers where it starts in the template
// so that errors while rendering can point at it.

/// <summary>An expression.</summary>
internal abstract record Expr(SourcePosition At);

/// <summary>A literal: string, long, double, bool or null (Jinja's none).</summary>
internal sealed record LiteralExpr(object? Value, SourcePosition At) : Expr(At);

/// <summary>A variable lookup by name.</summary>
internal sealed record NameExpr(string Name, SourcePosition At) : Expr(At);

/// <summary>A list literal <c>[a, b]</c> (tuples <c>(a, b)</c> are read as lists too).</summary>
internal sealed record ListExpr(IReadOnlyList<Expr> Items, SourcePosition At) : Expr(At);

/// <summary>A dict literal <c>{'k': v}</c>.</summary>
internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Items, SourcePosition At) : Expr(At);

/// <summary><c>obj.name</c>: an attribute, or the item of that name.</summary>
internal sealed record AttributeExpr(Expr Target, string Name, SourcePosition At) : Expr(At);

/// <summary><c>obj[key]</c>: an item, or the attribute of that name.</summary>
internal sealed record IndexExpr(Expr Target, Expr Key, SourcePosition At) : Expr(At);

/// <summary><c>seq[start:stop:step]</c>; each part may be missing.</summary>
internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, SourcePosition At) : Expr(At);

/// <summary>A call <c>f(a, key=b)</c>: a global function or a method such as <c>text.strip()</c>.</summary>
internal sealed record CallExpr(Expr Callee, IReadOnlyList<Expr> Args, IReadOnlyList<(string Name, Expr Value)> Kwargs, SourcePosition At) : Expr(At);

/// <summary><c>value | name(args, key=v)</c>.</summary>
internal sealed record FilterExpr(Expr Value, string Name, IReadOnlyList<Expr> Args, IReadOnlyList<(string Name, Expr Value)> Kwargs, SourcePosition At) : Expr(At);

/// <summary><c>value is [not] name(args)</c>.</summary>
internal sealed record TestExpr(Expr Value, string Name, IReadOnlyList<Expr> Args, bool Negated, SourcePosition At) : Expr(At);

/// <summary><c>not x</c>, <c>-x</c>, <c>+x</c>.</summary>
internal sealed record UnaryExpr(string Op, Expr Operand, SourcePosition At) : Expr(At);

/// <summary>Arithmetic, <c>~</c> concatenation and comparisons (<c>in</c>, <c>not in</c> included).</summary>
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, SourcePosition At) : Expr(At);

/// <summary><c>and</c> / <c>or</c> with Python's short-circuit (the result is one of the operands).</summary>
internal sealed record LogicalExpr(string Op, Expr Left, Expr Right, SourcePosition At) : Expr(At);

/// <summary><c>a if condition else b</c> (b missing: undefined).</summary>
internal sealed record ConditionalExpr(Expr Condition, Expr Then, Expr? Else, SourcePosition At) : Expr(At);

/// <summary>A statement.</summary>
internal abstract record Stmt(SourcePosition At);

/// <summary>Literal text.</summary>
internal sealed record TextStmt(string Text, SourcePosition At) : Stmt(At);

/// <summary><c>{{ expr }}</c>.</summary>
internal sealed record OutputStmt(Expr Value, SourcePosition At) : Stmt(At);

/// <summary><c>{% if %}...{% elif %}...{% else %}...{% endif %}</c>: the first branch whose condition holds.</summary>
internal sealed record IfStmt(IReadOnlyList<(Expr Condition, IReadOnlyList<Stmt> Body)> Branches, IReadOnlyList<Stmt>? Else, SourcePosition At) : Stmt(At);

/// <summary><c>{% for a, b in items if cond %}...{% else %}...{% endfor %}</c>.</summary>
internal sealed record ForStmt(IReadOnlyList<string> Targets, Expr Items, Expr? Filter, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt>? Else, SourcePosition At) : Stmt(At);

/// <summary><c>{% set a = v %}</c>, <c>{% set a, b = v %}</c> or <c>{% set ns.attr = v %}</c> (Attribute set).</summary>
internal sealed record SetStmt(IReadOnlyList<string> Targets, string? Attribute, Expr Value, SourcePosition At) : Stmt(At);

/// <summary><c>{% set name %}...{% endset %}</c>: the rendered body becomes the variable's value.</summary>
internal sealed record SetBlockStmt(string Target, IReadOnlyList<Stmt> Body, SourcePosition At) : Stmt(At);

/// <summary><c>{% break %}</c> or <c>{% continue %}</c> (Jinja's loopcontrols extension, enabled by Hugging Face).</summary>
internal sealed record LoopControlStmt(bool IsBreak, SourcePosition At) : Stmt(At);

/// <summary><c>{% generation %}...{% endgeneration %}</c> (Hugging Face's marker of assistant text): renders its body.</summary>
internal sealed record GenerationStmt(IReadOnlyList<Stmt> Body, SourcePosition At) : Stmt(At);
