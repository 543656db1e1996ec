using PeftEngine.IO.Internal;

namespace PeftEngine.IO.Gguf;

/// <summary>
/// A GGUF (v2/v3) file opened for reading: header, metadata key/values, tensor infos and a memory-mapped data
/// section. Tensors are converted to engine tensors on request by <see cref="Load"/>.
/// </summary>
/// <remarks>
/// llama.cpp: <c>gguf_init_from_file</c> / gguf-py <c>GGUFReader</c>. Layout: magic "GGUF", u32 version,
/// u64 tensor count, u64 key/value count, the key/values, the tensor infos, padding to <c>general.alignment</c>
/// (default 32), then the data section. Tensor offsets are relative to the data section and aligned.
/// </remarks>
public sealed unsafe partial class GgufFile : IDisposable
{
    /// <summary>"GGUF" read as a little-endian u32.</summary>
    public const uint Magic = 0x46554747;

    /// <summary>The alignment used when the file does not set <c>general.alignment</c>.</summary>
    public const int DefaultAlignment = 32;

    private readonly MappedFile _file;
    private readonly byte* _base;
    private readonly Dictionary<string, GgufTensorInfo> _tensorByName;
    private bool _disposed;

    private GgufFile(string path, MappedFile file, GgufCursor c)
    {
        Path = path;
        _file = file;
        _base = file.Pointer;
        FileLength = c.Length;
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("GGUF reading needs a little-endian host");
        uint magic = c.U32("the magic");
        if (magic != Magic)
            throw c.Error($"bad magic 0x{magic:X8}; a GGUF file starts with the bytes 'GGUF'");
        Version = c.U32("the version");
        if (Version == 1) throw c.Error("GGUF version 1 (32-bit lengths) is not supported; convert the file with a newer llama.cpp");
        if (Version is not (2 or 3))
            throw c.Error($"unsupported GGUF version {Version} (supported: 2, 3); a huge value suggests a big-endian file");
        long tensorCount = c.Count("the tensor count", 8 + 4 + 4 + 8);
        long kvCount = c.Count("the metadata count", 8 + 4);

        var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
        var types = new Dictionary<string, GgufValueType>(StringComparer.Ordinal);
        for (long i = 0; i < kvCount; i++)
        {
            string key = c.String($"metadata key #{i}");
            var type = (GgufValueType)c.U32($"the type of '{key}'");
            object value = ReadValue(c, type, key, depth: 0);
            if (!metadata.TryAdd(key, value)) throw c.Error($"metadata key '{key}' appears twice");
            types[key] = type;
        }
        Metadata = metadata;
        MetadataTypes = types;
        Alignment = DefaultAlignment;
        if (metadata.TryGetValue("general.alignment", out var al))
        {
            if (al is not uint a || a == 0 || (a & (a - 1)) != 0)
                throw c.Error($"general.alignment must be a power-of-two u32, got {al}");
            Alignment = (int)a;
        }

        var tensors = new List<GgufTensorInfo>();
        _tensorByName = new Dictionary<string, GgufTensorInfo>(StringComparer.Ordinal);
        for (long i = 0; i < tensorCount; i++)
        {
            string name = c.String($"the name of tensor #{i}");
            uint nDims = c.U32($"the rank of tensor '{name}'");
            if (nDims > 8) throw c.Error($"tensor '{name}' has {nDims} dimensions (at most 8 allowed)");
            var dims = new long[nDims];
            for (int d = 0; d < nDims; d++)
            {
                ulong v = c.U64($"dimension {d} of tensor '{name}'");
                if (v > int.MaxValue) throw c.Error($"tensor '{name}' dimension {d} is {v}, too large");
                dims[d] = (long)v;
            }
            uint typeId = c.U32($"the type of tensor '{name}'");
            var type = (GgmlType)typeId;
            long offset = (long)Math.Min(c.U64($"the offset of tensor '{name}'"), long.MaxValue);
            if (GgmlTypes.Block(type) is not { } block)
                throw c.Error($"tensor '{name}' has unknown ggml type id {typeId}");
            long numel = dims.Aggregate(1L, (a, d) => a * d);
            if (dims.Length > 0 && dims[0] % block.BlockSize != 0)
                throw c.Error($"tensor '{name}' of type {type} has an innermost dimension {dims[0]} that is not a multiple of the block size {block.BlockSize}");
            if (offset % Alignment != 0)
                throw c.Error($"tensor '{name}' offset {offset} is not a multiple of the alignment {Alignment}");
            var info = new GgufTensorInfo(name, dims, type, offset, numel / block.BlockSize * block.BlockBytes);
            if (!_tensorByName.TryAdd(name, info)) throw c.Error($"tensor '{name}' appears twice");
            tensors.Add(info);
        }
        Tensors = tensors;
        DataOffset = (c.Position + Alignment - 1) / Alignment * Alignment;
        long dataLength = FileLength - DataOffset;
        foreach (var t in tensors)
            if (t.Offset + t.ByteLength > dataLength)
                throw new InvalidDataException($"GGUF file '{path}', tensor '{t.Name}': data [{t.Offset}, {t.Offset + t.ByteLength}) runs past the data section ({Math.Max(0, dataLength)} bytes); the file is truncated");
        var sorted = tensors.OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].Offset < sorted[i - 1].Offset + sorted[i - 1].ByteLength)
                throw new InvalidDataException($"GGUF file '{path}', tensor '{sorted[i].Name}': data overlaps tensor '{sorted[i - 1].Name}'");
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>The format version (2 or 3).</summary>
    public uint Version { get; }

    /// <summary>All metadata values: byte, sbyte, ushort, short, uint, int, float, bool, string, ulong, long,
    /// double, or <see cref="GgufArray"/>.</summary>
    public IReadOnlyDictionary<string, object> Metadata { get; }

    /// <summary>The stored type of each metadata value.</summary>
    public IReadOnlyDictionary<string, GgufValueType> MetadataTypes { get; }

    /// <summary>Data alignment (<c>general.alignment</c>, default 32).</summary>
    public int Alignment { get; }

    /// <summary>Absolute file offset of the data section.</summary>
    public long DataOffset { get; }

    /// <summary>Total file size in bytes.</summary>
    public long FileLength { get; }

    /// <summary>The tensor infos in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Tensor names in file order.</summary>
    public IEnumerable<string> Keys => Tensors.Select(t => t.Name);

    /// <summary>Opens, maps and parses a GGUF file. Errors name the file and what is wrong.</summary>
    public static GgufFile Open(string path)
    {
        long length = new FileInfo(path).Length;
        if (length < 24)
            throw new InvalidDataException($"GGUF file '{path}': {length} bytes is too short for a GGUF header (24 bytes); the file is truncated or not GGUF");
        var file = MappedFile.Open(path, length);
        try
        {
            return new GgufFile(path, file, new GgufCursor(file.Pointer, length, path));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static object ReadValue(GgufCursor c, GgufValueType type, string key, int depth) => type switch
    {
        GgufValueType.UInt8 => c.U8(key),
        GgufValueType.Int8 => (sbyte)c.U8(key),
        GgufValueType.UInt16 => c.U16(key),
        GgufValueType.Int16 => (short)c.U16(key),
        GgufValueType.UInt32 => c.U32(key),
        GgufValueType.Int32 => (int)c.U32(key),
        GgufValueType.Float32 => c.F32(key),
        GgufValueType.Bool => c.U8(key) switch
        {
            0 => false,
            1 => true,
            var b => throw c.Error($"metadata '{key}' is a bool stored as {b} (expected 0 or 1)"),
        },
        GgufValueType.String => c.String($"the value of '{key}'"),
        GgufValueType.UInt64 => c.U64(key),
        GgufValueType.Int64 => (long)c.U64(key),
        GgufValueType.Float64 => c.F64(key),
        GgufValueType.Array => ReadArray(c, key, depth),
        _ => throw c.Error($"metadata '{key}' has unknown value type {(uint)type}"),
    };

    private static GgufArray ReadArray(GgufCursor c, string key, int depth)
    {
        if (depth > 8) throw c.Error($"metadata '{key}' nests arrays more than 8 deep");
        var elem = (GgufValueType)c.U32($"the element type of '{key}'");
        if (!Enum.IsDefined(elem)) throw c.Error($"metadata '{key}' is an array of unknown value type {(uint)elem}");
        long n = c.Count($"the length of array '{key}'", 1);
        var items = new object[n];
        for (long i = 0; i < n; i++) items[i] = ReadValue(c, elem, key, depth + 1);
        return new GgufArray(elem, items);
    }

    /// <summary>The info of tensor <paramref name="name"/>.</summary>
    public GgufTensorInfo Info(string name) =>
        _tensorByName.GetValueOrDefault(name) ?? throw new KeyNotFoundException($"GGUF file '{Path}' has no tensor '{name}'");

    /// <summary>True when the file has a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => _tensorByName.ContainsKey(name);

    /// <summary>The stored bytes of a tensor (valid until the file is disposed).</summary>
    public ReadOnlySpan<byte> RawBytes(string name)
    {
        ThrowIfDisposed();
        var info = Info(name);
        return new ReadOnlySpan<byte>(_base + DataOffset + info.Offset, checked((int)info.ByteLength));
    }

    private void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(GgufFile), $"GGUF file '{Path}' was closed");
    }

    /// <summary>Unmaps the file. Loaded tensors stay valid.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _file.Dispose();
    }
}
