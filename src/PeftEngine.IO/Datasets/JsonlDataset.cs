using System.Text.Json;

namespace PeftEngine.IO.Datasets;

/// <summary>
/// Reads JSON Lines datasets: one JSON object per line, in Alpaca (<c>instruction</c>/<c>input</c>/<c>output</c>),
/// chat (<c>messages</c>: role/content), ShareGPT (<c>conversations</c>: from/value) or plain <c>text</c> form.
/// Blank lines are skipped. Errors name the file and the line.
/// </summary>
/// <remarks>HF: <c>datasets.load_dataset("json", data_files=...)</c> followed by the usual format detection of
/// fine-tuning scripts (TRL, LLaMA-Factory).</remarks>
public static class JsonlDataset
{
    /// <summary>Reads every record of <paramref name="path"/>.</summary>
    public static List<DatasetRecord> Read(string path)
    {
        using var reader = new StreamReader(path);
        return Read(reader, path);
    }

    /// <summary>Reads every record from <paramref name="reader"/>; <paramref name="file"/> names it in errors.</summary>
    public static List<DatasetRecord> Read(TextReader reader, string file)
    {
        var result = new List<DatasetRecord>();
        int lineNo = 0;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw Error(file, lineNo, $"not valid JSON ({e.Message})"); }
            using (doc) result.Add(Parse(doc.RootElement, file, lineNo));
        }
        return result;
    }

    private static DatasetRecord Parse(JsonElement o, string file, int line)
    {
        if (o.ValueKind != JsonValueKind.Object) throw Error(file, line, $"expected a JSON object, got {o.ValueKind}");
        if (o.TryGetProperty("messages", out var msgs)) return new ChatRecord(line, Messages(msgs, "role", "content", file, line, "messages"));
        if (o.TryGetProperty("conversations", out var conv)) return new ChatRecord(line, Messages(conv, "from", "value", file, line, "conversations"));
        if (o.TryGetProperty("instruction", out _) || o.TryGetProperty("output", out _))
            return new InstructionRecord(line, Str(o, "instruction", file, line, required: true)!,
                Str(o, "input", file, line, required: false) ?? "", Str(o, "output", file, line, required: true)!);
        if (o.TryGetProperty("text", out _)) return new TextRecord(line, Str(o, "text", file, line, required: true)!);
        throw Error(file, line, "unknown record format: expected 'instruction'/'output', 'messages', 'conversations' or 'text'");
    }

    private static List<ChatMessage> Messages(JsonElement arr, string roleKey, string contentKey, string file, int line, string field)
    {
        if (arr.ValueKind != JsonValueKind.Array) throw Error(file, line, $"'{field}' must be an array");
        var list = new List<ChatMessage>();
        int i = 0;
        foreach (var m in arr.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object) throw Error(file, line, $"'{field}'[{i}] must be an object");
            string role = Str(m, roleKey, file, line, required: true, $"{field}[{i}].")!;
            string content = Str(m, contentKey, file, line, required: true, $"{field}[{i}].")!;
            list.Add(new ChatMessage(NormaliseRole(role, file, line, $"{field}[{i}].{roleKey}"), content));
            i++;
        }
        if (list.Count == 0) throw Error(file, line, $"'{field}' is empty");
        return list;
    }

    /// <summary>Maps ShareGPT speaker names onto chat roles: human/user -> user, gpt/assistant/bot/model -> assistant.</summary>
    private static string NormaliseRole(string role, string file, int line, string where) => role.ToLowerInvariant() switch
    {
        "system" => "system",
        "user" or "human" => "user",
        "assistant" or "gpt" or "bot" or "model" => "assistant",
        "tool" or "function" or "observation" => "tool",
        _ => throw Error(file, line, $"'{where}' has unknown role '{role}'"),
    };

    private static string? Str(JsonElement o, string key, string file, int line, bool required, string prefix = "")
    {
        if (!o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null)
            return required ? throw Error(file, line, $"missing field '{prefix}{key}'") : null;
        if (v.ValueKind != JsonValueKind.String) throw Error(file, line, $"field '{prefix}{key}' must be a string, got {v.ValueKind}");
        return v.GetString();
    }

    private static InvalidDataException Error(string file, int line, string message) => new($"dataset '{file}', line {line}: {message}");
}
