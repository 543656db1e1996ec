using System.Buffers.Binary;
using PeftEngine.IO.Internal;

namespace PeftEngine.IO.Safetensors;

/// <summary>
/// A safetensors file opened for reading. The file is memory-mapped; the header is parsed and validated on
/// open, and each tensor is copied out of the mapping only when <see cref="Load"/> asks for it.
/// </summary>
/// <remarks>
/// PyTorch/HF: <c>safetensors.safe_open(path, framework="pt")</c>. Loaded tensors are copies in ordinary host
/// storage (the engine's kernels need <see cref="HostStorage"/>), so they stay valid after the file is disposed.
/// </remarks>
public sealed unsafe class SafetensorsFile : ITensorSource
{
    private readonly MappedFile _file;
    private readonly byte* _base;
    private readonly long _dataStart;
    private bool _disposed;

    private SafetensorsFile(string path, MappedFile file, long dataStart, SafetensorsHeader header)
    {
        Path = path;
        _file = file;
        _base = file.Pointer;
        _dataStart = dataStart;
        Header = header;
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>The parsed header.</summary>
    public SafetensorsHeader Header { get; }

    /// <summary>The tensor names, in file order.</summary>
    public IEnumerable<string> Keys => Header.Tensors.Select(t => t.Name);

    /// <summary>The <c>__metadata__</c> map (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata => Header.Metadata;

    /// <summary>True when the file holds a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => Header.Find(name) is not null;

    /// <summary>Opens, maps and validates a file. Errors name the file (and the key, for a bad entry).</summary>
    public static SafetensorsFile Open(string path)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; this host is big-endian");
        long length = new FileInfo(path).Length;
        if (length < 8)
            throw SafetensorsHeader.Error(path, null, $"the file has {length} bytes, fewer than the 8-byte header length");
        var file = MappedFile.Open(path, length);
        try
        {
            byte* p = file.Pointer;
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(p, 8));
            if (n > (ulong)(length - 8))
                throw SafetensorsHeader.Error(path, null, $"the header length {n} runs past the end of the file ({length} bytes); the file is truncated or not safetensors");
            if (n > SafetensorsHeader.MaxHeaderBytes)
                throw SafetensorsHeader.Error(path, null, $"the header length {n} exceeds the {SafetensorsHeader.MaxHeaderBytes}-byte limit");
            if (n < 2 || p[8] != (byte)'{')
                throw SafetensorsHeader.Error(path, null, "the header does not start with '{'; not a safetensors file");
            long dataStart = 8 + (long)n;
            var header = SafetensorsHeader.Parse(new ReadOnlySpan<byte>(p + 8, (int)n), length - dataStart, path);
            return new SafetensorsFile(path, file, dataStart, header);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The entry for <paramref name="name"/>: dtype, shape and data offsets.</summary>
    public SafetensorsTensorInfo Info(string name) =>
        Header.Find(name) ?? throw new KeyNotFoundException($"safetensors file '{Path}' has no tensor '{name}'");

    /// <summary>The raw stored bytes of a tensor (valid until the file is disposed).</summary>
    public ReadOnlySpan<byte> RawBytes(string name)
    {
        ThrowIfDisposed();
        var info = Info(name);
        return new ReadOnlySpan<byte>(_base + _dataStart + info.Begin, checked((int)info.ByteLength));
    }

    /// <summary>Copies tensor <paramref name="name"/> into a new host tensor, cast to <paramref name="convertTo"/> when given.</summary>
    /// <remarks>PyTorch/HF: <c>f.get_tensor(name).to(dtype)</c>. Without a target dtype the engine dtype is
    /// <see cref="SafetensorsDTypes.ToEngine"/> of the stored one (I8 widens to I32, BOOL becomes U8).</remarks>
    public Tensor Load(string name, DType? convertTo = null)
    {
        ThrowIfDisposed();
        var info = Info(name);
        var shape = new Shape(info.Shape);
        var engineType = info.DType.ToEngine();
        var t = Tensor.Empty(shape, engineType, Device.Cpu);
        try
        {
            byte* src = _base + _dataStart + info.Begin;
            var storage = t.HostStorage;
            if (info.DType == SafetensorsDType.I8)
            {
                int* dst = storage.Ptr<int>();
                for (long i = 0; i < info.Numel; i++) dst[i] = ((sbyte*)src)[i];
            }
            else
            {
                Buffer.MemoryCopy(src, storage.Ptr<byte>(), storage.ByteLength, info.ByteLength);
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

    /// <summary>Loads every tensor into a dictionary (keys in file order).</summary>
    public Dictionary<string, Tensor> LoadAll(DType? convertTo = null)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (string k in Keys) result[k] = Load(k, convertTo);
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    private void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(SafetensorsFile), $"safetensors file '{Path}' was closed");
    }

    /// <summary>Unmaps the file. Tensors already loaded stay valid.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _file.Dispose();
    }
}
