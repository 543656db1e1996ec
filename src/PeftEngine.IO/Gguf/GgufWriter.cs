using System.Text;

namespace PeftEngine.IO.Gguf;

/// <summary>
/// Builds a GGUF (v3) file: metadata key/values and tensors in the order added, each tensor's data aligned to
/// <c>general.alignment</c> (default 32). Saved atomically.
/// </summary>
/// <remarks>llama.cpp: gguf-py <c>GGUFWriter</c>. Engine shapes (outermost first) are written reversed, as
/// ggml's innermost-first ne[].</remarks>
public sealed class GgufWriter
{
    private readonly List<(string Key, GgufValueType Type, object Value)> _kv = [];
    private readonly List<(string Name, GgmlType Type, long[] Dims, byte[] Data)> _tensors = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>The format version written (2 or 3; both have the same layout).</summary>
    public uint Version { get; init; } = 3;

    /// <summary>Adds a metadata value. The CLR type must match <paramref name="type"/> (string for String, uint for
    /// UInt32, <see cref="GgufArray"/> for Array...).</summary>
    public GgufWriter Add(string key, GgufValueType type, object value)
    {
        Check(type, value, key);
        if (!_keys.Add(key)) throw new ArgumentException($"GGUF writer: metadata key '{key}' added twice");
        _kv.Add((key, type, value));
        return this;
    }

    /// <summary>Adds a string value.</summary>
    public GgufWriter AddString(string key, string value) => Add(key, GgufValueType.String, value);

    /// <summary>Adds a u32 value.</summary>
    public GgufWriter AddUInt32(string key, uint value) => Add(key, GgufValueType.UInt32, value);

    /// <summary>Adds an f32 value.</summary>
    public GgufWriter AddFloat32(string key, float value) => Add(key, GgufValueType.Float32, value);

    /// <summary>Adds a bool value.</summary>
    public GgufWriter AddBool(string key, bool value) => Add(key, GgufValueType.Bool, value);

    /// <summary>Adds an array of elements of one type.</summary>
    public GgufWriter AddArray<T>(string key, GgufValueType elementType, IEnumerable<T> items) where T : notnull =>
        Add(key, GgufValueType.Array, new GgufArray(elementType, items.Select(i => (object)i).ToArray()));

    /// <summary>Adds a tensor stored as its own dtype (F32, F16, BF16, F64, I32, I64).</summary>
    public GgufWriter AddTensor(string name, Tensor t)
    {
        var type = t.DType switch
        {
            DType.F32 => GgmlType.F32, DType.F16 => GgmlType.F16, DType.BF16 => GgmlType.BF16, DType.F64 => GgmlType.F64,
            DType.I32 => GgmlType.I32, DType.I64 => GgmlType.I64,
            _ => throw new ArgumentException($"GGUF writer: tensor '{name}' has dtype {t.DType.Name()}, which GGUF cannot store"),
        };
        var bytes = new byte[t.Numel * t.DType.SizeOf()];
        using (var c = Ops.Contiguous(t)) c.Backend.CopyToHost(c.Storage, c.Offset * c.DType.SizeOf(), bytes);
        return AddRaw(name, type, t.Shape.ToArray(), bytes);
    }

    /// <summary>Adds a float tensor quantised to Q8_0 (its last dimension must be a multiple of 32).</summary>
    public GgufWriter AddQ8_0(string name, Tensor t) => AddRaw(name, GgmlType.Q8_0, t.Shape.ToArray(), GgufQuants.QuantizeQ8_0(t.ToFloatArray()));

    /// <summary>Adds a tensor from already-encoded bytes; <paramref name="shape"/> is in engine order (outermost first).</summary>
    public GgufWriter AddRaw(string name, GgmlType type, int[] shape, byte[] data)
    {
        var block = GgmlTypes.Block(type) ?? throw new ArgumentException($"GGUF writer: tensor '{name}' has unknown type {type}");
        long numel = shape.Aggregate(1L, (a, d) => a * d);
        if (shape.Length > 0 && shape[^1] % block.BlockSize != 0)
            throw new ArgumentException($"GGUF writer: tensor '{name}' last dimension {shape[^1]} is not a multiple of {type}'s block size {block.BlockSize}");
        if (data.Length != numel / block.BlockSize * block.BlockBytes)
            throw new ArgumentException($"GGUF writer: tensor '{name}' has {data.Length} bytes, {type} shape [{string.Join(", ", shape)}] needs {numel / block.BlockSize * block.BlockBytes}");
        if (!_names.Add(name)) throw new ArgumentException($"GGUF writer: tensor '{name}' added twice");
        _tensors.Add((name, type, shape.Reverse().Select(d => (long)d).ToArray(), data));
        return this;
    }

    /// <summary>Writes the file atomically (temporary file, then rename).</summary>
    public void Save(string path) => AtomicFile.Write(path, Write);

    /// <summary>Writes the file to a stream.</summary>
    public void Write(Stream stream)
    {
        int alignment = GgufFile.DefaultAlignment;
        foreach (var (key, _, value) in _kv)
            if (key == "general.alignment") alignment = (int)(uint)value;
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(GgufFile.Magic);
        w.Write(Version);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_kv.Count);
        foreach (var (key, type, value) in _kv)
        {
            WriteString(w, key);
            w.Write((uint)type);
            WriteValue(w, type, value);
        }
        long offset = 0;
        var offsets = new long[_tensors.Count];
        for (int i = 0; i < _tensors.Count; i++)
        {
            var (name, type, dims, data) = _tensors[i];
            WriteString(w, name);
            w.Write((uint)dims.Length);
            foreach (long d in dims) w.Write((ulong)d);
            w.Write((uint)type);
            w.Write((ulong)offset);
            offsets[i] = offset;
            offset = Align(offset + data.Length, alignment);
        }
        Pad(w, alignment);
        long dataStart = w.BaseStream.Position;
        for (int i = 0; i < _tensors.Count; i++)
        {
            Pad(w, alignment);
            if (w.BaseStream.Position - dataStart != offsets[i]) throw new InvalidOperationException("GGUF writer: offset bookkeeping failed");
            w.Write(_tensors[i].Data);
        }
    }

    private static long Align(long x, int a) => (x + a - 1) / a * a;

    private static void Pad(BinaryWriter w, int alignment)
    {
        long pos = w.BaseStream.Position;
        for (long i = pos; i < Align(pos, alignment); i++) w.Write((byte)0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValueType type, object v)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write((byte)v); break;
            case GgufValueType.Int8: w.Write((sbyte)v); break;
            case GgufValueType.UInt16: w.Write((ushort)v); break;
            case GgufValueType.Int16: w.Write((short)v); break;
            case GgufValueType.UInt32: w.Write((uint)v); break;
            case GgufValueType.Int32: w.Write((int)v); break;
            case GgufValueType.Float32: w.Write((float)v); break;
            case GgufValueType.Bool: w.Write((byte)((bool)v ? 1 : 0)); break;
            case GgufValueType.String: WriteString(w, (string)v); break;
            case GgufValueType.UInt64: w.Write((ulong)v); break;
            case GgufValueType.Int64: w.Write((long)v); break;
            case GgufValueType.Float64: w.Write((double)v); break;
            case GgufValueType.Array:
                var a = (GgufArray)v;
                w.Write((uint)a.ElementType);
                w.Write((ulong)a.Items.Count);
                foreach (var item in a.Items) WriteValue(w, a.ElementType, item);
                break;
        }
    }

    private static void Check(GgufValueType type, object v, string key)
    {
        bool ok = type switch
        {
            GgufValueType.UInt8 => v is byte, GgufValueType.Int8 => v is sbyte,
            GgufValueType.UInt16 => v is ushort, GgufValueType.Int16 => v is short,
            GgufValueType.UInt32 => v is uint, GgufValueType.Int32 => v is int,
            GgufValueType.Float32 => v is float, GgufValueType.Bool => v is bool,
            GgufValueType.String => v is string, GgufValueType.UInt64 => v is ulong,
            GgufValueType.Int64 => v is long, GgufValueType.Float64 => v is double,
            GgufValueType.Array => v is GgufArray,
            _ => false,
        };
        if (!ok) throw new ArgumentException($"GGUF writer: metadata '{key}' declared {type} but the value is a {v.GetType().Name}");
        if (v is GgufArray arr)
            foreach (var item in arr.Items) Check(arr.ElementType, item, key);
        if (key == "general.alignment" && (v is not uint a || a == 0 || (a & (a - 1)) != 0))
            throw new ArgumentException("GGUF writer: general.alignment must be a power-of-two u32");
    }
}
