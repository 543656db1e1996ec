namespace PeftEngine.IO.Gguf;

public sealed unsafe partial class GgufFile
{
    /// <summary>
    /// Copies tensor <paramref name="name"/> into a new host tensor with the engine's (outermost-first) shape,
    /// cast to <paramref name="convertTo"/> when given. F32/F16/BF16/F64/I32/I64 load as themselves, I8 widens to
    /// I32, Q8_0 is dequantised to F32. Other quantised types are reported as unsupported.
    /// </summary>
    /// <remarks>llama.cpp: <c>dequantize_row_*</c>; gguf-py: <c>GGUFReader.tensors[i].data</c>.</remarks>
    public Tensor Load(string name, DType? convertTo = null)
    {
        ThrowIfDisposed();
        var info = Info(name);
        byte* src = _base + DataOffset + info.Offset;
        var shape = new Shape(info.Shape);
        DType engineType = info.Type switch
        {
            GgmlType.F32 or GgmlType.Q8_0 => DType.F32,
            GgmlType.F16 => DType.F16,
            GgmlType.BF16 => DType.BF16,
            GgmlType.F64 => DType.F64,
            GgmlType.I32 or GgmlType.I8 => DType.I32,
            GgmlType.I64 => DType.I64,
            _ => throw new NotSupportedException($"GGUF file '{Path}', tensor '{name}': loading ggml type {info.Type} is not supported (supported: F32, F16, BF16, F64, I8, I32, I64, Q8_0)"),
        };
        var t = Tensor.Empty(shape, engineType, Device.Cpu);
        try
        {
            var storage = t.HostStorage;
            switch (info.Type)
            {
                case GgmlType.Q8_0:
                    GgufQuants.DequantizeQ8_0(new ReadOnlySpan<byte>(src, checked((int)info.ByteLength)), new Span<float>(storage.Ptr<float>(), checked((int)info.Numel)));
                    break;
                case GgmlType.I8:
                    for (long i = 0; i < info.Numel; i++) storage.Ptr<int>()[i] = ((sbyte*)src)[i];
                    break;
                default:
                    Buffer.MemoryCopy(src, storage.Ptr<byte>(), storage.ByteLength, info.ByteLength);
                    break;
            }
            if (convertTo is not { } target || target == engineType) return t;
            var converted = Ops.Cast(t, target);
            t.Dispose();
            return converted;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }
}
