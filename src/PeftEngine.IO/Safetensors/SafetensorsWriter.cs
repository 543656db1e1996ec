using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PeftEngine.IO.Safetensors;

/// <summary>A tensor to write given as raw little-endian bytes (for dtypes the engine lacks, such as I8 and BOOL).</summary>
/// <param name="DType">The stored dtype.</param>
/// <param name="Shape">The dimensions, outermost first.</param>
/// <param name="Data">Exactly numel * size bytes, row-major.</param>
public sealed record SafetensorsRawTensor(SafetensorsDType DType, int[] Shape, ReadOnlyMemory<byte> Data);

/// <summary>
/// Writes safetensors files exactly as HF's safetensors library lays them out: tensors ordered by dtype
/// (larger types first, in HF's dtype order) and then by name, data packed with no gaps, a compact JSON header
/// with <c>__metadata__</c> first, padded with spaces to a multiple of 8 bytes. Files are written atomically.
/// </summary>
/// <remarks>PyTorch/HF: <c>safetensors.torch.save_file(tensors, path, metadata)</c>.</remarks>
public static class SafetensorsWriter
{
    private const int ChunkBytes = 16 << 20;

    private sealed record Pending(string Name, SafetensorsDType DType, int[] Shape, long ByteLength, Action<Stream> WriteData);

    /// <summary>Writes engine tensors (any device, any layout) to <paramref name="path"/>.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var pending = tensors.Select(kv =>
        {
            kv.Value.ThrowIfDisposed(kv.Key);
            var dt = SafetensorsDTypes.FromEngine(kv.Value.DType);
            return new Pending(kv.Key, dt, kv.Value.Shape.ToArray(), kv.Value.Numel * dt.SizeOf(), s => WriteTensor(kv.Value, s));
        }).ToList();
        Write(path, pending, metadata);
    }

    /// <summary>Writes tensors given as raw bytes with an explicit stored dtype.</summary>
    public static void SaveRaw(string path, IReadOnlyDictionary<string, SafetensorsRawTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var pending = tensors.Select(kv =>
        {
            var r = kv.Value;
            long expected = r.Shape.Aggregate(1L, (a, d) => a * d) * r.DType.SizeOf();
            if (r.Data.Length != expected)
                throw new ArgumentException($"safetensors write '{path}', key '{kv.Key}': {r.Data.Length} bytes given but {r.DType} shape [{string.Join(", ", r.Shape)}] needs {expected}");
            return new Pending(kv.Key, r.DType, r.Shape, expected, s => s.Write(r.Data.Span));
        }).ToList();
        Write(path, pending, metadata);
    }

    private static void Write(string path, List<Pending> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        foreach (var t in tensors)
            if (t.Name == SafetensorsHeader.MetadataKey)
                throw new ArgumentException($"safetensors write '{path}': '{SafetensorsHeader.MetadataKey}' is reserved and cannot name a tensor");
        // HF order: dtype descending in its enum order, then name (ordinal).
        tensors.Sort((a, b) =>
        {
            int c = b.DType.WriteRank().CompareTo(a.DType.WriteRank());
            return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
        });
        byte[] header = BuildHeader(tensors.Select(t => (t.Name, t.DType, t.Shape, t.ByteLength)), metadata);
        AtomicFile.Write(path, s =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
            s.Write(len);
            s.Write(header);
            foreach (var t in tensors)
            {
                long before = s.Position;
                t.WriteData(s);
                if (s.Position - before != t.ByteLength)
                    throw new InvalidOperationException($"safetensors write '{path}', key '{t.Name}': wrote {s.Position - before} bytes, expected {t.ByteLength}");
            }
        });
    }

    /// <summary>The padded header bytes (without the 8-byte length) for entries already in file order.</summary>
    internal static byte[] BuildHeader(IEnumerable<(string Name, SafetensorsDType DType, int[] Shape, long ByteLength)> ordered,
        IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var kv in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(kv.Key, kv.Value);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, dtype, shape, bytes) in ordered)
            {
                w.WriteStartObject(name);
                w.WriteString("dtype", dtype.HeaderName());
                w.WriteStartArray("shape");
                foreach (int d in shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        // Pad with spaces so the data section starts on an 8-byte boundary.
        int pad = (int)((8 - ms.Length % 8) % 8);
        for (int i = 0; i < pad; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }

    private static void WriteTensor(Tensor t, Stream s)
    {
        using var c = t.IsContiguous ? t.Alias() : Ops.Contiguous(t);
        long total = c.Numel * c.DType.SizeOf();
        long start = c.Offset * c.DType.SizeOf();
        var buffer = new byte[(int)Math.Min(ChunkBytes, Math.Max(total, 1))];
        for (long done = 0; done < total;)
        {
            int n = (int)Math.Min(buffer.Length, total - done);
            c.Backend.CopyToHost(c.Storage, start + done, buffer.AsSpan(0, n));
            s.Write(buffer, 0, n);
            done += n;
        }
    }
}
