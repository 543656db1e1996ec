using System.ComponentModel;
using System.Globalization;
using PeftEngine.IO;
using PeftEngine.IO.Gguf;
using PeftEngine.IO.Safetensors;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary><c>peft info</c>: what a model folder, safetensors file, GGUF file or adapter folder holds.</summary>
public sealed class InfoCommand : Command<InfoCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<PATH>"), Description("A model folder, an adapter folder, a .safetensors file, a .gguf file, or a shipped model name")]
        public string Path { get; init; } = "";

        [CommandOption("--tensors <N>"), Description("List at most this many tensors (default: 20; 0 for none)")]
        public int Tensors { get; init; } = 20;
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        string path = ModelResolver.Locate(s.Path);
        if (Directory.Exists(path))
        {
            if (File.Exists(System.IO.Path.Combine(path, "adapter_config.json")))
            {
                AnsiConsole.MarkupLine($"[bold]adapter[/] {Markup.Escape(path)}");
                Console.WriteLine(File.ReadAllText(System.IO.Path.Combine(path, "adapter_config.json")).Trim());
                Safetensors(System.IO.Path.Combine(path, "adapter_model.safetensors"), s.Tensors);
                return 0;
            }
            string config = System.IO.Path.Combine(path, "config.json");
            if (!File.Exists(config)) throw new ArgumentException($"'{path}' holds neither config.json nor adapter_config.json");
            var c = HfConfig.Load(config);
            AnsiConsole.MarkupLine($"[bold]model[/] {Markup.Escape(path)}: model_type {Markup.Escape(c.ModelType)}");
            if (PeftEngine.Quant.GptqAwqConfig.QuantMethodOf(config) is { } method)
            {
                var q = PeftEngine.Quant.GptqAwqConfig.FromConfigFile(config);
                AnsiConsole.MarkupLine($"quantization: {Markup.Escape(q is null ? method : q.Describe() + " (dequantized to float on load)")}");
            }
            string weights = System.IO.Path.Combine(path, "model.safetensors");
            if (File.Exists(weights)) Safetensors(weights, s.Tensors);
            else AnsiConsole.MarkupLine("(no model.safetensors)");
            return 0;
        }
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) Gguf(path, s.Tensors);
        else Safetensors(path, s.Tensors);
        return 0;
    }

    private static void Safetensors(string file, int list)
    {
        using var f = SafetensorsFile.Open(file);
        var infos = f.Header.Tensors;
        long parameters = infos.Sum(t => t.Numel), bytes = infos.Sum(t => t.ByteLength);
        AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"{Markup.Escape(file)}: {infos.Count} tensors, {parameters:N0} values, {bytes / 1048576.0:F2} MiB; dtypes {string.Join(", ", infos.GroupBy(t => t.DType).Select(g => $"{g.Key} x{g.Count()}"))}"));
        Table(infos.Select(t => (t.Name, t.DType.ToString(), "[" + string.Join(", ", t.Shape) + "]")), list, infos.Count);
    }

    private static void Gguf(string file, int list)
    {
        using var f = GgufFile.Open(file);
        AnsiConsole.MarkupLine($"{Markup.Escape(file)}: GGUF v{f.Version}, {f.Tensors.Count} tensors, {f.Metadata.Count} metadata keys");
        foreach (var key in f.Metadata.Keys.Where(k => k.StartsWith("general.", StringComparison.Ordinal) || !k.StartsWith("tokenizer.", StringComparison.Ordinal)).Take(30))
            Console.WriteLine($"  {key} = {Show(f.Metadata[key])}");
        Table(f.Tensors.Select(t => (t.Name, t.Type.ToString(), "[" + string.Join(", ", t.Shape) + "]")), list, f.Tensors.Count);
    }

    private static string Show(object value) => value switch
    {
        string text => text.Length > 60 ? text[..60] + "…" : text,
        System.Collections.ICollection items => $"[{items.Count} items]",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    private static void Table(IEnumerable<(string Name, string DType, string Shape)> rows, int list, int total)
    {
        if (list <= 0) return;
        var table = new Table().Border(TableBorder.Simple).AddColumn("tensor").AddColumn("dtype").AddColumn("shape");
        foreach (var (name, dtype, shape) in rows.Take(list)) table.AddRow(Markup.Escape(name), Markup.Escape(dtype), Markup.Escape(shape));
        AnsiConsole.Write(table);
        if (total > list) Console.WriteLine($"  … and {total - list} more (--tensors N to list more)");
    }
}
