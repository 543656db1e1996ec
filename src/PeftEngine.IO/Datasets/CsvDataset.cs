using System.Text;

namespace PeftEngine.IO.Datasets;

/// <summary>A text classification example read from CSV.</summary>
/// <param name="Text">The text column.</param>
/// <param name="Label">The label's index in <see cref="CsvDataset.Labels"/>.</param>
/// <param name="Line">The 1-based line where the record starts.</param>
public sealed record LabeledText(string Text, int Label, int Line);

/// <summary>
/// CSV files (RFC 4180: comma-separated, fields optionally in double quotes, <c>""</c> for a quote inside a quoted
/// field, line breaks allowed inside quotes, CRLF or LF line ends) with a header row naming the columns.
/// </summary>
/// <remarks>HF: <c>datasets.load_dataset("csv", ...)</c> with a ClassLabel column.</remarks>
public sealed class CsvDataset
{
    private CsvDataset(List<LabeledText> rows, string[] labels)
    {
        Rows = rows;
        Labels = labels;
    }

    /// <summary>The examples in file order.</summary>
    public IReadOnlyList<LabeledText> Rows { get; }

    /// <summary>The distinct label strings; a label's index is its class id. When every label is an integer the
    /// ids are those integers and this lists 0..max; otherwise labels are sorted (ordinal).</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Reads text/label pairs from <paramref name="path"/>.</summary>
    public static CsvDataset ReadTextLabel(string path, string textColumn = "text", string labelColumn = "label") =>
        ReadTextLabel(File.ReadAllText(path), path, textColumn, labelColumn);

    /// <summary>Reads text/label pairs from CSV text; <paramref name="file"/> names it in errors.</summary>
    public static CsvDataset ReadTextLabel(string csv, string file, string textColumn, string labelColumn)
    {
        var records = Parse(csv, file);
        if (records.Count == 0) throw new InvalidDataException($"CSV '{file}': the file is empty (a header row is required)");
        var header = records[0].Fields;
        int ti = Array.IndexOf(header, textColumn), li = Array.IndexOf(header, labelColumn);
        if (ti < 0 || li < 0)
            throw new InvalidDataException($"CSV '{file}', line 1: the header [{string.Join(", ", header)}] lacks column '{(ti < 0 ? textColumn : labelColumn)}'");
        var raw = new List<(string Text, string Label, int Line)>();
        foreach (var (line, fields) in records.Skip(1))
        {
            if (fields.Length != header.Length)
                throw new InvalidDataException($"CSV '{file}', line {line}: {fields.Length} fields, but the header has {header.Length}");
            raw.Add((fields[ti], fields[li], line));
        }
        bool numeric = raw.Count > 0 && raw.All(r => int.TryParse(r.Label, out int v) && v >= 0);
        string[] labels = numeric
            ? Enumerable.Range(0, raw.Max(r => int.Parse(r.Label)) + 1).Select(i => i.ToString()).ToArray()
            : raw.Select(r => r.Label).Distinct().Order(StringComparer.Ordinal).ToArray();
        var index = labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i);
        var rows = raw.Select(r => new LabeledText(r.Text, numeric ? int.Parse(r.Label) : index[r.Label], r.Line)).ToList();
        return new CsvDataset(rows, labels);
    }

    /// <summary>Splits CSV text into records of fields, each with the line number where it starts.</summary>
    public static List<(int Line, string[] Fields)> Parse(string csv, string file)
    {
        var records = new List<(int, string[])>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, recordLine = 1, i = 0;
        bool inQuotes = false, quotedField = false, any = false;
        while (i < csv.Length)
        {
            char ch = csv[i];
            if (inQuotes)
            {
                if (ch == '"')
                {
                    if (i + 1 < csv.Length && csv[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                    inQuotes = false;
                    i++;
                    if (i < csv.Length && csv[i] is not (',' or '\r' or '\n'))
                        throw new InvalidDataException($"CSV '{file}', line {line}: unexpected '{csv[i]}' after a closing quote");
                    continue;
                }
                if (ch == '\n') line++;
                field.Append(ch);
                i++;
                continue;
            }
            switch (ch)
            {
                case '"' when field.Length == 0 && !quotedField:
                    inQuotes = quotedField = any = true;
                    i++;
                    break;
                case '"':
                    throw new InvalidDataException($"CSV '{file}', line {line}: a quote inside an unquoted field (quote the whole field and double the quote)");
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    quotedField = false;
                    any = true;
                    i++;
                    break;
                case '\r' or '\n':
                    if (ch == '\r' && i + 1 < csv.Length && csv[i + 1] == '\n') i++;
                    i++;
                    EndRecord();
                    line++;
                    recordLine = line;
                    break;
                default:
                    field.Append(ch);
                    any = true;
                    i++;
                    break;
            }
        }
        if (inQuotes) throw new InvalidDataException($"CSV '{file}', line {recordLine}: a quoted field is never closed");
        EndRecord();
        return records;

        void EndRecord()
        {
            if (any || field.Length > 0)
            {
                fields.Add(field.ToString());
                records.Add((recordLine, fields.ToArray()));
            }
            fields.Clear();
            field.Clear();
            quotedField = false;
            any = false;
        }
    }
}
