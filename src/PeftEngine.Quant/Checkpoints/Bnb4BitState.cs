using System.Text;
using System.Text.Json;
using PeftEngine.IO.Safetensors;

namespace PeftEngine.Quant;

/// <summary>
/// One 4-bit weight as bitsandbytes serializes it into a state dict (transformers' "bnb-4bit" checkpoints). For a
/// module at path P the keys are:
/// <list type="bullet">
/// <item><c>P.weight</c>: the packed indices, U8 of shape (ceil(out·in / 2), 1), first element in the high nibble;</item>
/// <item><c>P.weight.absmax</c>: F32 block scales, or U8 indices into the nested map with double quantization;</item>
/// <item><c>P.weight.quant_map</c>: the 16-value codebook (F32);</item>
/// <item><c>P.weight.nested_absmax</c>, <c>P.weight.nested_quant_map</c>: double quantization only;</item>
/// <item><c>P.weight.quant_state.bitsandbytes__nf4</c> (or <c>__fp4</c>): the UTF-8 bytes of a JSON object with
/// quant_type, blocksize, dtype, shape and, with double quantization, nested_blocksize, nested_dtype and nested_offset.</item>
/// </list>
/// </summary>
/// <remarks>bitsandbytes: QuantState.as_dict(packed=True) / QuantState.from_dict, written by Linear4bit._save_to_state_dict.</remarks>
public static class Bnb4BitState
{
    /// <summary>The suffix of the key that marks a pre-quantized weight, for each 4-bit type.</summary>
    public static string QuantStateSuffix(FourBitType type) => type == FourBitType.Nf4
        ? ".quant_state.bitsandbytes__nf4"
        : ".quant_state.bitsandbytes__fp4";

    /// <summary>True when <paramref name="weightKey"/> (e.g. <c>model.layers.0.mlp.up_proj.weight</c>) is stored in 4 bits.</summary>
    public static bool IsQuantized(ITensorSource source, string weightKey, out FourBitType type)
    {
        foreach (var t in new[] { FourBitType.Nf4, FourBitType.Fp4 })
            if (source.Contains(weightKey + QuantStateSuffix(t)))
            {
                type = t;
                return true;
            }
        type = default;
        return false;
    }

    /// <summary>Reads the 4-bit weight stored under <paramref name="weightKey"/>.</summary>
    public static (PackedWeight4Bit Weight, FourBitType Type) Read(ITensorSource source, string weightKey, string file)
    {
        if (!IsQuantized(source, weightKey, out var type))
            throw new InvalidDataException($"{file}: '{weightKey}' has no '{weightKey}{QuantStateSuffix(FourBitType.Nf4)}' (or __fp4) entry; it is not a bitsandbytes 4-bit weight");
        string stateKey = weightKey + QuantStateSuffix(type);
        using var stateBytes = Require(source, stateKey, file);
        var state = ParseState(Encoding.UTF8.GetString(RawBytes(stateBytes)), stateKey, file);
        if ((state.QuantType == "nf4" ? FourBitType.Nf4 : FourBitType.Fp4) != type)
            throw new InvalidDataException($"{file}: '{stateKey}' says quant_type \"{state.QuantType}\", which contradicts its key");

        long count = (long)state.Rows * state.Cols;
        var packed = Require(source, weightKey, file);
        var packedBytes = RawBytes(packed);
        packed.Dispose();
        if (packedBytes.Length != (count + 1) / 2)
            throw new InvalidDataException($"{file}: '{weightKey}' holds {packedBytes.Length} bytes, but a {state.Rows}x{state.Cols} 4-bit weight needs {(count + 1) / 2}");
        var codebook = LoadF32(source, weightKey + ".quant_map", 16, file);
        long blocks = (count + state.BlockSize - 1) / state.BlockSize;
        var packedTensor = Tensor.FromArray(packedBytes);
        if (state.NestedBlockSize is not int nestedBlockSize)
        {
            var absmax = LoadF32(source, weightKey + ".absmax", blocks, file);
            return (new PackedWeight4Bit(state.Rows, state.Cols, state.BlockSize, packedTensor, codebook, absmax), type);
        }
        using var qAbsmaxRaw = Require(source, weightKey + ".absmax", file);
        if (qAbsmaxRaw.DType != DType.U8 || qAbsmaxRaw.Numel != blocks)
            throw new InvalidDataException($"{file}: '{weightKey}.absmax' must be U8 with {blocks} values under double quantization, got {qAbsmaxRaw.DType.Name()} {qAbsmaxRaw.Shape}");
        var qAbsmax = Tensor.FromArray(qAbsmaxRaw.ToArray<byte>());
        var nestedAbsmax = LoadF32(source, weightKey + ".nested_absmax", (blocks + nestedBlockSize - 1) / nestedBlockSize, file);
        var nestedCode = LoadF32(source, weightKey + ".nested_quant_map", 256, file);
        return (new PackedWeight4Bit(state.Rows, state.Cols, state.BlockSize, packedTensor, codebook,
            qAbsmax, nestedAbsmax, nestedCode, nestedBlockSize, state.NestedOffset), type);
    }

    /// <summary>The tensors that store <paramref name="w"/> under <paramref name="weightKey"/>, ready for
    /// <see cref="SafetensorsWriter.SaveRaw"/>. <paramref name="dtype"/> is the dtype to dequantize into, as bitsandbytes
    /// names it ("float32", "bfloat16", "float16").</summary>
    public static Dictionary<string, SafetensorsRawTensor> Write(string weightKey, PackedWeight4Bit w, FourBitType type, string dtype = "float32")
    {
        var result = new Dictionary<string, SafetensorsRawTensor>(StringComparer.Ordinal)
        {
            [weightKey] = new(SafetensorsDType.U8, [(int)w.Packed.Numel, 1], w.Packed.ToArray<byte>()),
            [weightKey + ".quant_map"] = F32(w.Codebook),
        };
        var json = new StringBuilder();
        json.Append("{\"quant_type\": \"").Append(type == FourBitType.Nf4 ? "nf4" : "fp4")
            .Append("\", \"blocksize\": ").Append(w.BlockSize)
            .Append(", \"dtype\": \"").Append(dtype)
            .Append("\", \"shape\": [").Append(w.Rows).Append(", ").Append(w.Cols).Append(']');
        if (w.IsDoubleQuantized)
        {
            result[weightKey + ".absmax"] = new(SafetensorsDType.U8, [(int)w.NumBlocks], w.QuantizedAbsmax!.ToArray<byte>());
            result[weightKey + ".nested_absmax"] = F32(w.NestedAbsmax!);
            result[weightKey + ".nested_quant_map"] = F32(w.NestedCode!);
            json.Append(", \"nested_blocksize\": ").Append(w.NestedBlockSize)
                .Append(", \"nested_dtype\": \"float32\", \"nested_offset\": ")
                .Append(w.NestedOffset.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        }
        else result[weightKey + ".absmax"] = F32(w.Absmax!);
        json.Append('}');
        var stateBytes = Encoding.UTF8.GetBytes(json.ToString());
        result[weightKey + QuantStateSuffix(type)] = new(SafetensorsDType.U8, [stateBytes.Length], stateBytes);
        return result;
    }

    private sealed record State(string QuantType, int BlockSize, int Rows, int Cols, int? NestedBlockSize, float NestedOffset);

    private static State ParseState(string json, string key, string file)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            string quantType = root.GetProperty("quant_type").GetString() ?? "";
            if (quantType is not ("nf4" or "fp4"))
                throw new InvalidDataException($"{file}: '{key}' has quant_type \"{quantType}\"; expected \"nf4\" or \"fp4\"");
            var shape = root.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            if (shape.Length != 2)
                throw new InvalidDataException($"{file}: '{key}' has shape [{string.Join(", ", shape)}]; only 2-D (out, in) weights are supported");
            int? nested = root.TryGetProperty("nested_blocksize", out var nb) ? nb.GetInt32() : null;
            float offset = root.TryGetProperty("nested_offset", out var off) ? off.GetSingle() : 0f;
            return new State(quantType, root.GetProperty("blocksize").GetInt32(), shape[0], shape[1], nested, offset);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{file}: '{key}' is not a valid bitsandbytes quant state ({e.Message})", e);
        }
    }

    private static Tensor Require(ITensorSource source, string key, string file) =>
        source.Contains(key) ? source.Load(key) : throw new InvalidDataException($"{file}: the 4-bit weight needs a tensor '{key}', which is missing");

    private static Tensor LoadF32(ITensorSource source, string key, long count, string file)
    {
        var t = Require(source, key, file);
        if (t.DType != DType.F32 || t.Numel != count)
        {
            var got = $"{t.DType.Name()} {t.Shape}";
            t.Dispose();
            throw new InvalidDataException($"{file}: '{key}' must be F32 with {count} values, got {got}");
        }
        if (t.Rank == 1) return t;
        using (t)
        using (var flat = Ops.Reshape(t, (int)count))
            return Ops.Clone(flat);   // (…) -> (count,), a contiguous copy
    }

    /// <summary>The bytes of a host tensor as stored (bitsandbytes may view the packed bytes as another dtype).</summary>
    private static byte[] RawBytes(Tensor t)
    {
        var bytes = new byte[t.Numel * t.DType.SizeOf()];
        using var c = Ops.Contiguous(t);
        c.Backend.CopyToHost(c.Storage, c.Offset * c.DType.SizeOf(), bytes);
        return bytes;
    }

    private static SafetensorsRawTensor F32(Tensor t)
    {
        var values = t.ToArray<float>();
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return new SafetensorsRawTensor(SafetensorsDType.F32, [values.Length], bytes);
    }
}
