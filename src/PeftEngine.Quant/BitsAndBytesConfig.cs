namespace PeftEngine.Quant;

/// <summary>
/// How to load a model in 4 bits, with the field names and defaults of transformers' <c>BitsAndBytesConfig</c>
/// (as it appears under <c>quantization_config</c> in a bnb-4bit checkpoint's config.json).
/// </summary>
/// <remarks>HF: transformers.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=..., bnb_4bit_use_double_quant=...,
/// bnb_4bit_compute_dtype=..., llm_int8_skip_modules=...). Note transformers' default quant type is "fp4"; QLoRA
/// recommends "nf4" with double quantization.</remarks>
public sealed record BitsAndBytesConfig
{
    /// <summary>load_in_4bit.</summary>
    public bool LoadIn4Bit { get; init; } = true;

    /// <summary>bnb_4bit_quant_type: "nf4" or "fp4".</summary>
    public string Bnb4BitQuantType { get; init; } = "fp4";

    /// <summary>bnb_4bit_use_double_quant: quantize the block scales too.</summary>
    public bool Bnb4BitUseDoubleQuant { get; init; }

    /// <summary>bnb_4bit_compute_dtype. PeftEngine computes 4-bit products in float32 on the CPU.</summary>
    public string Bnb4BitComputeDType { get; init; } = "float32";

    /// <summary>Elements per absmax block (bitsandbytes' 4-bit default, not part of the HF config).</summary>
    public int BlockSize { get; init; } = 64;

    /// <summary>llm_int8_skip_modules: module names (or name suffixes) left in full precision; null means the
    /// output head (<c>lm_head</c>), as transformers decides when the list is absent.</summary>
    public IReadOnlyList<string>? LlmInt8SkipModules { get; init; }

    /// <summary>The 4-bit type named by <see cref="Bnb4BitQuantType"/>.</summary>
    public FourBitType QuantType => Bnb4BitQuantType.ToLowerInvariant() switch
    {
        "nf4" => FourBitType.Nf4,
        "fp4" => FourBitType.Fp4,
        _ => throw new ArgumentException($"BitsAndBytesConfig: bnb_4bit_quant_type must be \"nf4\" or \"fp4\", got \"{Bnb4BitQuantType}\""),
    };

    /// <summary>QLoRA's recommended setting: NF4 with double quantization.</summary>
    public static BitsAndBytesConfig QLoRA => new() { Bnb4BitQuantType = "nf4", Bnb4BitUseDoubleQuant = true };
}
