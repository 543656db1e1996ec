using System.Globalization;
using System.Reflection;
using Spectre.Console.Cli;
using YamlDotNet.RepresentationModel;

namespace PeftEngine.Cli.Train;

/// <summary>
/// Reads run settings from a YAML or JSON file (JSON is YAML too): a flat mapping whose keys are the long option
/// names of the command, with dashes or underscores (<c>seq-len: 128</c>, <c>"target_modules": "q_proj,v_proj"</c>),
/// plus a few Hugging Face spellings (<c>lora_alpha</c>, <c>learning_rate</c>, <c>use_dora: true</c>, ...). The file
/// is a second command line: it fills the options the real command line left unset, so flags always win, and every
/// option of the command (current and future) can be written in it without being listed here.
/// </summary>
/// <remarks>LLaMA-Factory: <c>llamafactory-cli train config.yaml</c> with command-line overrides.</remarks>
public static class ConfigFile
{
    /// <summary>Other spellings of option names (HF PEFT / TrainingArguments field names) -> the option name.</summary>
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        ["r"] = "rank", ["low-rank-dimension"] = "rank", ["lora-alpha"] = "alpha", ["lora-dropout"] = "dropout",
        ["bnb-4bit-quant-type"] = "quant-type", ["bnb-4bit-use-double-quant"] = "double-quant", ["init-lora-weights"] = "init",
        ["learning-rate"] = "lr", ["scaling"] = "adapter-scaling", ["prompt-tuning-init"] = "prompt-init",
        ["prompt-tuning-init-text"] = "prompt-init-text", ["layers"] = "reft-layers", ["positions"] = "reft-positions",
    };

    /// <summary>
    /// <paramref name="flags"/> with every option it leaves unset (null) taken from the file at <paramref name="path"/>;
    /// <paramref name="flags"/> itself when <paramref name="path"/> is null. The result names no config file, so
    /// applying it again changes nothing. Every option property of <typeparamref name="TSettings"/> must be nullable
    /// (null meaning "not given").
    /// </summary>
    public static TSettings WithFile<TSettings>(TSettings flags, string? path) where TSettings : CommandSettings, new()
    {
        ArgumentNullException.ThrowIfNull(flags);
        if (path is null) return flags;
        var options = Options(typeof(TSettings));
        var merged = new TSettings();
        foreach (var property in options.Values) property.SetValue(merged, property.GetValue(flags));
        foreach (var (key, value) in Read(path))
        {
            if (key == "config") throw new ArgumentException($"--config: '{path}' names another config file; put its keys in this one");
            if (!options.TryGetValue(key, out var property)) throw new ArgumentException($"--config: '{path}' has an unknown key '{key}'");
            if (property.GetValue(flags) is null) property.SetValue(merged, ParseValue(key, value, property.PropertyType, path));
        }
        if (options.TryGetValue("config", out var config)) config.SetValue(merged, null);
        return merged;
    }

    /// <summary>The (option name, value) pairs of the file, aliases resolved; <c>use-dora: true</c> becomes
    /// <c>method: dora</c> (false changes nothing).</summary>
    private static List<(string Key, string Value)> Read(string path)
    {
        if (!File.Exists(path)) throw new ArgumentException($"--config: file '{path}' does not exist");
        var yaml = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            yaml.Load(reader);
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new ArgumentException($"--config: '{path}' is not valid YAML/JSON (line {e.Start.Line}: {e.Message})", e);
        }
        var pairs = new List<(string Key, string Value)>();
        if (yaml.Documents.Count == 0) return pairs;
        if (yaml.Documents[0].RootNode is not YamlMappingNode root)
            throw new ArgumentException($"--config: '{path}' must hold a mapping of option names to values");
        foreach (var (keyNode, valueNode) in root.Children)
        {
            string key = ((YamlScalarNode)keyNode).Value!.Replace('_', '-').ToLowerInvariant();
            key = Aliases.GetValueOrDefault(key, key);
            string value = valueNode is YamlScalarNode scalar ? scalar.Value ?? ""
                : throw new ArgumentException($"--config: '{path}', key '{key}' must have a single value");
            pairs.Add((key, value));
        }
        int dora = pairs.FindIndex(p => p.Key == "use-dora");
        if (dora >= 0)
        {
            bool useDora = (bool)ParseValue("use-dora", pairs[dora].Value, typeof(bool), path)!;
            string? method = pairs.LastOrDefault(p => p.Key == "method").Value;
            if (useDora && method is not (null or "lora" or "dora"))
                throw new ArgumentException($"--config: '{path}', key 'use-dora' applies to method lora, not '{method}'");
            pairs.RemoveAt(dora);
            if (useDora) pairs.Add(("method", "dora"));
        }
        return pairs;
    }

    /// <summary>The option properties of a settings type by long option name ("seq-len" -> SeqLen).</summary>
    private static Dictionary<string, PropertyInfo> Options(Type settings)
    {
        var result = new Dictionary<string, PropertyInfo>(StringComparer.Ordinal);
        foreach (var property in settings.GetProperties())
            if (property.GetCustomAttribute<CommandOptionAttribute>() is { } option)
                foreach (var name in option.LongNames) result[name] = property;
        return result;
    }

    /// <summary>The value of <paramref name="text"/> as the option's type (string, int, double, ulong or bool, nullable).</summary>
    private static object? ParseValue(string key, string text, Type type, string path)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        var c = CultureInfo.InvariantCulture;
        if (target == typeof(string)) return text;
        if (target == typeof(int))
            return int.TryParse(text, NumberStyles.Integer, c, out int i) ? i : throw Bad(key, text, path, "an integer");
        if (target == typeof(double))
            return double.TryParse(text, NumberStyles.Float, c, out double d) ? d : throw Bad(key, text, path, "a number");
        if (target == typeof(ulong))
            return ulong.TryParse(text, NumberStyles.Integer, c, out ulong u) ? u : throw Bad(key, text, path, "a non-negative integer");
        if (target == typeof(bool))
            return bool.TryParse(text, out bool b) ? b : throw Bad(key, text, path, "true or false");
        throw new NotSupportedException($"--config: option '{key}' has the type {type.Name}, which a config file cannot set");
    }

    private static ArgumentException Bad(string key, string value, string path, string expected) =>
        new($"--config: '{path}', key '{key}' expects {expected}, got '{value}'");
}
