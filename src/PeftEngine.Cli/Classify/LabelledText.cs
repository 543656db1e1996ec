using System.Globalization;
using System.Text.Json;

namespace PeftEngine.Cli.Classify;

/// <summary>One text with its class name.</summary>
public sealed record LabelledText(string Text, string Label);

/// <summary>Reads a labelled JSONL file: one object per line with a <c>text</c> (or <c>sentence</c>) string and a
/// <c>label</c> (string or integer).</summary>
/// <remarks>HF: datasets.load_dataset("json", data_files=...) with the columns text / label.</remarks>
public static class LabelledTextFile
{
    /// <summary>Reads every record; blank lines are skipped; errors name the file and line.</summary>
    public static List<LabelledText> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"labelled data '{path}' not found", path);
        var result = new List<LabelledText>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement root;
            try { root = JsonDocument.Parse(line).RootElement; }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{lineNumber}: not a JSON object ({e.Message})"); }
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}:{lineNumber}: expected a JSON object");
            string? text = root.TryGetProperty("text", out var t) || root.TryGetProperty("sentence", out t) ? t.GetString() : null;
            if (text is null) throw new InvalidDataException($"{path}:{lineNumber}: missing the string field 'text'");
            if (!root.TryGetProperty("label", out var l)) throw new InvalidDataException($"{path}:{lineNumber}: missing the field 'label'");
            string label = l.ValueKind switch
            {
                JsonValueKind.String => l.GetString()!,
                JsonValueKind.Number => l.GetInt64().ToString(CultureInfo.InvariantCulture),
                JsonValueKind.True or JsonValueKind.False => l.GetBoolean() ? "1" : "0",
                _ => throw new InvalidDataException($"{path}:{lineNumber}: 'label' must be a string or an integer"),
            };
            result.Add(new LabelledText(text, label));
        }
        if (result.Count == 0) throw new InvalidDataException($"{path}: no records");
        return result;
    }

    /// <summary>The class names in order (numerically when every label is an integer, else ordinally): these are
    /// the class ids 0, 1, ...</summary>
    public static List<string> Labels(IEnumerable<LabelledText> records)
    {
        var names = records.Select(r => r.Label).Distinct().ToList();
        return names.All(n => long.TryParse(n, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
            ? names.OrderBy(n => long.Parse(n, CultureInfo.InvariantCulture)).ToList()
            : names.Order(StringComparer.Ordinal).ToList();
    }
}
