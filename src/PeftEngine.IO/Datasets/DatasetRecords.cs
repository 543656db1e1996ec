namespace PeftEngine.IO.Datasets;

/// <summary>One turn of a conversation. Roles are normalised to "system", "user" and "assistant".</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>A record read from a JSONL dataset.</summary>
/// <param name="Line">The 1-based line it came from.</param>
public abstract record DatasetRecord(int Line);

/// <summary>An Alpaca-style record: <c>{"instruction": ..., "input": ..., "output": ...}</c> ("input" optional).</summary>
public sealed record InstructionRecord(int Line, string Instruction, string Input, string Output) : DatasetRecord(Line);

/// <summary>A conversation, from chat <c>messages</c> (role/content) or ShareGPT <c>conversations</c> (from/value).</summary>
public sealed record ChatRecord(int Line, IReadOnlyList<ChatMessage> Messages) : DatasetRecord(Line);

/// <summary>A plain <c>{"text": ...}</c> record.</summary>
public sealed record TextRecord(int Line, string Text) : DatasetRecord(Line);
