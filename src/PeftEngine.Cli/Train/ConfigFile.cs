using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace PeftEngine.Cli.Train;

/// <summary>
/// Reads run settings from a YAML or JSON file (JSON is YAML too): a flat mapping whose keys are the option names of
/// the command, with dashes or underscores (<c>seq-len: 128</c>, <c>"target_modules": "q_proj,v_proj"</c>).
/// </summary>
public static class ConfigFile
{
    /// <summary>The options of <paramref name="defaults"/> with every key of <paramref name="path"/> applied.</summary>
    public static FineTuneOptions Apply(FineTuneOptions defaults, string path)
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
        if (yaml.Documents.Count == 0) return defaults;
        if (yaml.Documents[0].RootNode is not YamlMappingNode root)
            throw new ArgumentException($"--config: '{path}' must hold a mapping of option names to values");
        var o = defaults;
        foreach (var (keyNode, valueNode) in root.Children)
        {
            string key = ((YamlScalarNode)keyNode).Value!.Replace('_', '-').ToLowerInvariant();
            string value = valueNode is YamlScalarNode scalar ? scalar.Value ?? ""
                : throw new ArgumentException($"--config: '{path}', key '{key}' must have a single value");
            o = key switch
            {
                "model" => o with { Model = value },
                "method" => o with { Method = value },
                "rank" or "r" => o with { Rank = Int(key, value, path) },
                "alpha" or "lora-alpha" => o with { Alpha = Double(key, value, path) },
                "dropout" or "lora-dropout" => o with { Dropout = Double(key, value, path) },
                "target-modules" => o with { TargetModules = value },
                "use-dora" => o with { UseDora = bool.TryParse(value, out bool b) ? b : throw Bad(key, value, path, "true or false") },
                "load-in-4bit" => o with { LoadIn4Bit = bool.TryParse(value, out bool q) ? q : throw Bad(key, value, path, "true or false") },
                "quant-type" or "bnb-4bit-quant-type" => o with { QuantType = value },
                "double-quant" or "bnb-4bit-use-double-quant" => o with { DoubleQuant = bool.TryParse(value, out bool dq) ? dq : throw Bad(key, value, path, "true or false") },
                "init" or "init-lora-weights" => o with { Init = value },
                "data" => o with { Data = value },
                "eval-data" => o with { EvalData = value },
                "steps" => o with { Steps = Int(key, value, path) },
                "batch" => o with { Batch = Int(key, value, path) },
                "seq-len" => o with { SeqLen = Int(key, value, path) },
                "lr" or "learning-rate" => o with { Lr = Double(key, value, path) },
                "warmup" => o with { Warmup = Int(key, value, path) },
                "eval-examples" => o with { EvalExamples = Int(key, value, path) },
                "samples" => o with { Samples = Int(key, value, path) },
                "seed" => o with { Seed = ulong.TryParse(value, out ulong u) ? u : throw Bad(key, value, path, "a non-negative integer") },
                "threads" => o with { Threads = Int(key, value, path) },
                "device" => o with { Device = value },
                "output" => o with { Output = value },
                "resume" => o with { Resume = value },
                "checkpoint-every" => o with { CheckpointEvery = Int(key, value, path) },
                "feedforward-modules" => o with { FeedforwardModules = value },
                "bottleneck-size" => o with { BottleneckSize = Int(key, value, path) },
                "non-linearity" => o with { NonLinearity = value },
                "adapter-scaling" or "scaling" => o with { AdapterScaling = Double(key, value, path) },
                "num-virtual-tokens" => o with { NumVirtualTokens = Int(key, value, path) },
                "prompt-init" or "prompt-tuning-init" => o with { PromptInit = value },
                "prompt-init-text" or "prompt-tuning-init-text" => o with { PromptInitText = value },
                "prefix-projection" => o with { PrefixProjection = bool.TryParse(value, out bool pp) ? pp : throw Bad(key, value, path, "true or false") },
                "encoder-hidden-size" => o with { EncoderHiddenSize = Int(key, value, path) },
                "reft-layers" or "layers" => o with { ReftLayers = value },
                "reft-positions" or "positions" => o with { ReftPositions = value },
                "low-rank-dimension" => o with { Rank = Int(key, value, path) },
                _ => throw new ArgumentException($"--config: '{path}' has an unknown key '{key}'"),
            };
        }
        return o;
    }

    private static int Int(string key, string value, string path) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw Bad(key, value, path, "an integer");

    private static double Double(string key, string value, string path) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw Bad(key, value, path, "a number");

    private static ArgumentException Bad(string key, string value, string path, string expected) =>
        new($"--config: '{path}', key '{key}' expects {expected}, got '{value}'");
}
