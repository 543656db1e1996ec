using PeftEngine.IO.Gguf;

namespace PeftEngine.Quant;

/// <summary>Loads any GGUF tensor as F32, expanding the ggml block formats (Q4_0 … Q6_K, IQ4_NL) on the way.</summary>
/// <remarks>llama.cpp: ggml_get_type_traits(type)->to_float; gguf-py: gguf.quants.dequantize.</remarks>
public static class GgufDequantizer
{
    /// <summary>The block types this class can expand.</summary>
    public static readonly GgmlType[] SupportedBlockTypes =
    [
        GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0, GgmlType.IQ4_NL,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    ];

    /// <summary>Expands <paramref name="blocks"/> of type <paramref name="type"/> into <paramref name="output"/>.</summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> blocks, Span<float> output)
    {
        switch (type)
        {
            case GgmlType.Q4_0: GgmlLegacyBlocks.DequantizeQ4_0(blocks, output); break;
            case GgmlType.Q4_1: GgmlLegacyBlocks.DequantizeQ4_1(blocks, output); break;
            case GgmlType.Q5_0: GgmlLegacyBlocks.DequantizeQ5_0(blocks, output); break;
            case GgmlType.Q5_1: GgmlLegacyBlocks.DequantizeQ5_1(blocks, output); break;
            case GgmlType.Q8_0: GgufQuants.DequantizeQ8_0(blocks, output); break;
            case GgmlType.IQ4_NL: GgmlLegacyBlocks.DequantizeIq4Nl(blocks, output); break;
            case GgmlType.Q2_K: GgmlKQuants.DequantizeQ2_K(blocks, output); break;
            case GgmlType.Q3_K: GgmlKQuants.DequantizeQ3_K(blocks, output); break;
            case GgmlType.Q4_K: GgmlKQuants.DequantizeQ4_K(blocks, output); break;
            case GgmlType.Q5_K: GgmlKQuants.DequantizeQ5_K(blocks, output); break;
            case GgmlType.Q6_K: GgmlKQuants.DequantizeQ6_K(blocks, output); break;
            default:
                throw new NotSupportedException(
                    $"ggml type {type} cannot be dequantized (supported block types: {string.Join(", ", SupportedBlockTypes)})");
        }
    }

    /// <summary>Tensor <paramref name="name"/> of <paramref name="file"/> as a new F32 host tensor (engine shape,
    /// outermost first). Plain types are read by the GGUF reader itself.</summary>
    public static Tensor LoadF32(GgufFile file, string name)
    {
        ArgumentNullException.ThrowIfNull(file);
        var info = file.Info(name);
        if (Array.IndexOf(SupportedBlockTypes, info.Type) < 0) return file.Load(name, DType.F32);
        var t = Tensor.Empty(new Shape(info.Shape), DType.F32, Device.Cpu);
        try
        {
            unsafe
            {
                var output = new Span<float>(t.HostStorage.Ptr<float>(), checked((int)info.Numel));
                Dequantize(info.Type, file.RawBytes(name), output);
            }
            return t;
        }
        catch (ArgumentException e)
        {
            t.Dispose();
            throw new InvalidDataException($"GGUF file '{file.Path}', tensor '{name}' ({info.Type}): {e.Message}", e);
        }
    }
}
