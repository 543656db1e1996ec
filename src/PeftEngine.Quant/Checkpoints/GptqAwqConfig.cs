using System.Globalization;
using System.Text.Json;

namespace PeftEngine.Quant;

/// <summary>
/// The <c>quantization_config</c> of a GPTQ or AWQ checkpoint's config.json: integer weights packed into int32
/// words, one scale (and zero point) per output column and group of <see cref="GroupSize"/> inputs. Fields the file
/// leaves out take transformers' defaults.
/// </summary>
/// <remarks>HF: transformers.GPTQConfig (quant_method "gptq") and transformers.AwqConfig (quant_method "awq").
/// AutoAWQ's own names <c>w_bit</c> and <c>q_group_size</c> are read as <c>bits</c> and <c>group_size</c>.</remarks>
public sealed record GptqAwqConfig
{
    /// <summary>"gptq" or "awq".</summary>
    public required string QuantMethod { get; init; }

    /// <summary>Bits per weight (GPTQ: 2, 3, 4 or 8; AWQ: 4).</summary>
    public int Bits { get; init; } = 4;

    /// <summary>Inputs that share one scale and zero; -1 means one group over all inputs.</summary>
    public int GroupSize { get; init; } = 128;

    /// <summary>GPTQ act-order: inputs were quantized by decreasing activation size, so their groups follow
    /// <c>g_idx</c> rather than <c>k / group_size</c>.</summary>
    public bool DescAct { get; init; }

    /// <summary>GPTQ symmetric quantization (every zero is the middle code). Informational: zeros are stored either way.</summary>
    public bool Sym { get; init; } = true;

    /// <summary>GPTQ storage convention: "gptq" (v1, zeros stored minus one) or "gptq_v2" (true zeros).</summary>
    public string CheckpointFormat { get; init; } = "gptq";

    /// <summary>AWQ kernel layout: only "gemm" is read here.</summary>
    public string Version { get; init; } = "gemm";

    /// <summary>AWQ asymmetric quantization with stored zeros.</summary>
    public bool ZeroPoint { get; init; } = true;

    /// <summary>True for a GPTQ checkpoint, false for AWQ.</summary>
    public bool IsGptq => QuantMethod == "gptq";

    /// <summary>True when stored zeros are one less than the real ones (GPTQ v1 checkpoints).</summary>
    public bool ZerosStoredMinusOne => IsGptq && CheckpointFormat == "gptq";

    /// <summary>"GPTQ" or "AWQ", for messages.</summary>
    public string FormatName => IsGptq ? "GPTQ" : "AWQ";

    /// <summary>A one-line summary, e.g. "gptq, 4-bit, group 128, act-order, asymmetric, checkpoint_format gptq".</summary>
    public string Describe() => IsGptq
        ? string.Create(CultureInfo.InvariantCulture,
            $"gptq, {Bits}-bit, {(GroupSize == -1 ? "one group" : $"group {GroupSize}")}{(DescAct ? ", act-order" : "")}, {(Sym ? "symmetric" : "asymmetric")}, checkpoint_format {CheckpointFormat}")
        : string.Create(CultureInfo.InvariantCulture,
            $"awq, {Bits}-bit, {(GroupSize == -1 ? "one group" : $"group {GroupSize}")}, version {Version}{(ZeroPoint ? "" : ", no zero point")}");

    /// <summary>
    /// Reads the quantization config of <paramref name="configPath"/> (a config.json); null when the file has no
    /// <c>quantization_config</c> or its <c>quant_method</c> is neither "gptq" nor "awq".
    /// </summary>
    public static GptqAwqConfig? FromConfigFile(string configPath)
    {
        ArgumentNullException.ThrowIfNull(configPath);
        return Parse(File.ReadAllText(configPath), configPath);
    }

    /// <summary>The <c>quantization_config.quant_method</c> of a config.json ("gptq", "awq", "bitsandbytes"...), or null.</summary>
    public static string? QuantMethodOf(string configPath)
    {
        using var doc = Open(File.ReadAllText(configPath), configPath);
        return QuantizationObject(doc.RootElement) is { } q && q.TryGetProperty("quant_method", out var m) && m.ValueKind == JsonValueKind.String
            ? m.GetString()!.ToLowerInvariant()
            : null;
    }

    /// <summary>Parses config.json text; <paramref name="file"/> names the source in messages.</summary>
    public static GptqAwqConfig? Parse(string json, string file = "config.json")
    {
        using var doc = Open(json, file);
        if (QuantizationObject(doc.RootElement) is not { } q) return null;
        string method = q.TryGetProperty("quant_method", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()!.ToLowerInvariant() : "";
        if (method is not ("gptq" or "awq")) return null;
        try
        {
            var config = new GptqAwqConfig { QuantMethod = method };
            return config with
            {
                Bits = Int(q, "bits") ?? Int(q, "w_bit") ?? config.Bits,
                GroupSize = Int(q, "group_size") ?? Int(q, "q_group_size") ?? config.GroupSize,
                DescAct = Bool(q, "desc_act") ?? config.DescAct,
                Sym = Bool(q, "sym") ?? config.Sym,
                CheckpointFormat = Str(q, "checkpoint_format")?.ToLowerInvariant() ?? config.CheckpointFormat,
                Version = Str(q, "version")?.ToLowerInvariant() ?? config.Version,
                ZeroPoint = Bool(q, "zero_point") ?? config.ZeroPoint,
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"'{file}': quantization_config ({method}) has a field of the wrong type ({e.Message})", e);
        }
    }

    /// <summary>
    /// Throws when the checkpoint uses a variant the dequantizers do not read: an AWQ version other than "gemm", AWQ
    /// without zero points, a GPTQ checkpoint_format other than "gptq" / "gptq_v2", or a group size below 1 (other
    /// than -1). Unsupported bit widths are reported per tensor, naming it.
    /// </summary>
    public void Validate(string file)
    {
        if (GroupSize != -1 && GroupSize < 1)
            throw new InvalidDataException($"'{file}': {FormatName} group_size {GroupSize} is invalid (expected a positive size or -1)");
        if (IsGptq)
        {
            if (CheckpointFormat is not ("gptq" or "gptq_v2"))
                throw new InvalidDataException($"'{file}': GPTQ checkpoint_format \"{CheckpointFormat}\" is not supported (\"gptq\" or \"gptq_v2\")");
            return;
        }
        if (Version != "gemm")
            throw new InvalidDataException($"'{file}': AWQ version \"{Version}\" is not supported; only \"gemm\" checkpoints are read (gemv, gemv_fast, exllama and marlin pack their words differently)");
        if (!ZeroPoint)
            throw new InvalidDataException($"'{file}': AWQ with zero_point false is not supported; only asymmetric GEMM checkpoints with stored qzeros are read");
    }

    private static JsonDocument Open(string json, string file)
    {
        try { return JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }); }
        catch (JsonException e) { throw new InvalidDataException($"'{file}': not valid JSON ({e.Message})", e); }
    }

    private static JsonElement? QuantizationObject(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("quantization_config", out var q) && q.ValueKind == JsonValueKind.Object ? q : null;

    private static int? Int(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetInt32() : null;

    private static bool? Bool(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetBoolean() : null;

    private static string? Str(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetString() : null;
}
