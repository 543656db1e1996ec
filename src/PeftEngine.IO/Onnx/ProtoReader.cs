using System.Buffers.Binary;
using System.Text;

namespace PeftEngine.IO.Onnx;

/// <summary>The four protobuf wire types this reader understands (groups, types 3 and 4, are obsolete).</summary>
public enum ProtoWireType
{
    /// <summary>A base-128 varint (int32, int64, uint64, bool, enum).</summary>
    Varint = 0,
    /// <summary>8 little-endian bytes (fixed64, sfixed64, double).</summary>
    Fixed64 = 1,
    /// <summary>A varint byte length followed by that many bytes (string, bytes, sub-message, packed repeated).</summary>
    LengthDelimited = 2,
    /// <summary>4 little-endian bytes (fixed32, sfixed32, float).</summary>
    Fixed32 = 5,
}

/// <summary>
/// A forward-only reader of the protobuf wire format over a block of memory: a message is a sequence of fields,
/// each a tag (field number &lt;&lt; 3 | wire type, as a varint) followed by a value of that wire type. Nothing is
/// generated from a .proto file; callers switch on field numbers. Length-delimited values are returned as slices
/// of the same memory (no copy), so a 90 MB model's raw tensor data is read in place.
/// </summary>
/// <remarks>Python protobuf: google.protobuf.internal.decoder. Errors (truncated data, varints over 10 bytes,
/// unknown wire types) name <see cref="What"/> and the byte offset.</remarks>
public sealed class ProtoReader
{
    private readonly ReadOnlyMemory<byte> _data;
    private int _pos;

    /// <summary>Reads the message in <paramref name="data"/>; <paramref name="what"/> names it in error messages.</summary>
    public ProtoReader(ReadOnlyMemory<byte> data, string what = "protobuf message")
    {
        _data = data;
        What = what;
    }

    /// <summary>What is being read (for error messages).</summary>
    public string What { get; }

    /// <summary>Offset of the next byte to read.</summary>
    public int Position => _pos;

    /// <summary>True when every byte has been read.</summary>
    public bool AtEnd => _pos >= _data.Length;

    /// <summary>Reads the next tag; false at the end of the message.</summary>
    public bool TryReadTag(out int field, out ProtoWireType wireType)
    {
        field = 0;
        wireType = ProtoWireType.Varint;
        if (AtEnd) return false;
        int start = _pos;
        ulong tag = ReadVarint();
        int type = (int)(tag & 7);
        if (type is not (0 or 1 or 2 or 5))
            throw Error(start, $"unsupported wire type {type} (tag {tag})");
        if (tag >> 3 is 0 or > int.MaxValue)
            throw Error(start, $"invalid field number {tag >> 3}");
        field = (int)(tag >> 3);
        wireType = (ProtoWireType)type;
        return true;
    }

    /// <summary>Reads a varint (at most 10 bytes).</summary>
    public ulong ReadVarint()
    {
        var span = _data.Span;
        int start = _pos;
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_pos >= span.Length) throw Error(start, "truncated varint");
            byte b = span[_pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw Error(start, "varint longer than 10 bytes");
    }

    /// <summary>Reads a varint as a (two's complement) int64, as protobuf's int64 and int32 fields store them.</summary>
    public long ReadInt64() => (long)ReadVarint();

    /// <summary>Reads 4 little-endian bytes.</summary>
    public uint ReadFixed32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "fixed32").Span);

    /// <summary>Reads 8 little-endian bytes.</summary>
    public ulong ReadFixed64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, "fixed64").Span);

    /// <summary>Reads a float (fixed32).</summary>
    public float ReadFloat() => BitConverter.Int32BitsToSingle((int)ReadFixed32());

    /// <summary>Reads a double (fixed64).</summary>
    public double ReadDouble() => BitConverter.Int64BitsToDouble((long)ReadFixed64());

    /// <summary>Reads a length-delimited value as a slice of the underlying memory.</summary>
    public ReadOnlyMemory<byte> ReadBytes()
    {
        int start = _pos;
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _pos))
            throw Error(start, $"length {length} runs past the end ({_data.Length - _pos} bytes left)");
        return Take((int)length, "bytes");
    }

    /// <summary>Reads a length-delimited UTF-8 string.</summary>
    public string ReadString() => Encoding.UTF8.GetString(ReadBytes().Span);

    /// <summary>Reads a length-delimited sub-message and returns a reader over it.</summary>
    public ProtoReader ReadMessage(string what) => new(ReadBytes(), what);

    /// <summary>Reads one element of a repeated varint field, or all of them when the field is packed.</summary>
    public void ReadRepeatedInt64(ProtoWireType wireType, List<long> into)
    {
        if (wireType == ProtoWireType.Varint) { into.Add(ReadInt64()); return; }
        RequireWireType(wireType, ProtoWireType.LengthDelimited, "repeated int64");
        var packed = new ProtoReader(ReadBytes(), What);
        while (!packed.AtEnd) into.Add(packed.ReadInt64());
    }

    /// <summary>Reads one element of a repeated float field, or all of them when the field is packed.</summary>
    public void ReadRepeatedFloat(ProtoWireType wireType, List<float> into)
    {
        if (wireType == ProtoWireType.Fixed32) { into.Add(ReadFloat()); return; }
        RequireWireType(wireType, ProtoWireType.LengthDelimited, "repeated float");
        var bytes = ReadBytes().Span;
        if (bytes.Length % 4 != 0) throw Error(_pos, $"packed floats of {bytes.Length} bytes (not a multiple of 4)");
        for (int i = 0; i < bytes.Length; i += 4) into.Add(BinaryPrimitives.ReadSingleLittleEndian(bytes[i..]));
    }

    /// <summary>Reads one element of a repeated double field, or all of them when the field is packed.</summary>
    public void ReadRepeatedDouble(ProtoWireType wireType, List<double> into)
    {
        if (wireType == ProtoWireType.Fixed64) { into.Add(ReadDouble()); return; }
        RequireWireType(wireType, ProtoWireType.LengthDelimited, "repeated double");
        var bytes = ReadBytes().Span;
        if (bytes.Length % 8 != 0) throw Error(_pos, $"packed doubles of {bytes.Length} bytes (not a multiple of 8)");
        for (int i = 0; i < bytes.Length; i += 8) into.Add(BinaryPrimitives.ReadDoubleLittleEndian(bytes[i..]));
    }

    /// <summary>Skips a value of the given wire type (an unknown field).</summary>
    public void Skip(ProtoWireType wireType)
    {
        switch (wireType)
        {
            case ProtoWireType.Varint: ReadVarint(); break;
            case ProtoWireType.Fixed64: Take(8, "fixed64"); break;
            case ProtoWireType.Fixed32: Take(4, "fixed32"); break;
            case ProtoWireType.LengthDelimited: ReadBytes(); break;
            default: throw Error(_pos, $"cannot skip wire type {wireType}");
        }
    }

    /// <summary>Throws when a field arrived with another wire type than its declared type needs.</summary>
    public void RequireWireType(ProtoWireType actual, ProtoWireType expected, string field)
    {
        if (actual != expected)
            throw Error(_pos, $"field {field} has wire type {actual}, expected {expected}");
    }

    private ReadOnlyMemory<byte> Take(int count, string what)
    {
        if (count > _data.Length - _pos)
            throw Error(_pos, $"truncated {what}: need {count} bytes, {_data.Length - _pos} left");
        var slice = _data.Slice(_pos, count);
        _pos += count;
        return slice;
    }

    private InvalidDataException Error(int offset, string message) => new($"{What}: {message} at byte {offset}");
}
