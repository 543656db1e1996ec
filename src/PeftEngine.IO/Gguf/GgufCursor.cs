using System.Buffers.Binary;
using System.Text;

namespace PeftEngine.IO.Gguf;

/// <summary>Reads little-endian GGUF primitives from a byte range, throwing an error that names the file, the
/// offset and what was being read when the range ends early.</summary>
internal sealed unsafe class GgufCursor(byte* start, long length, string file)
{
    public long Position { get; set; }

    public string File => file;

    public long Length => length;

    public InvalidDataException Error(string message) => new($"GGUF file '{file}' (at byte {Position}): {message}");

    private byte* Take(long n, string what)
    {
        if (n < 0 || Position > length - n)
            throw Error($"the file ends while reading {what} ({n} bytes needed, {length - Position} left); it is truncated");
        byte* p = start + Position;
        Position += n;
        return p;
    }

    public byte U8(string what) => *Take(1, what);
    public ushort U16(string what) => BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(Take(2, what), 2));
    public uint U32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(Take(4, what), 4));
    public ulong U64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(Take(8, what), 8));
    public float F32(string what) => BinaryPrimitives.ReadSingleLittleEndian(new ReadOnlySpan<byte>(Take(4, what), 4));
    public double F64(string what) => BinaryPrimitives.ReadDoubleLittleEndian(new ReadOnlySpan<byte>(Take(8, what), 8));

    /// <summary>A count (u64) that must fit the remaining bytes when each item needs at least <paramref name="minItemBytes"/>.</summary>
    public long Count(string what, long minItemBytes)
    {
        ulong n = U64(what);
        if (n > (ulong)long.MaxValue || (minItemBytes > 0 && (long)n > (length - Position) / minItemBytes))
            throw Error($"{what} is {n}, more than the rest of the file can hold; the file is truncated or corrupt");
        return (long)n;
    }

    public string String(string what)
    {
        long n = Count($"length of {what}", 1);
        byte* p = Take(n, what);
        try { return new UTF8Encoding(false, true).GetString(p, checked((int)n)); }
        catch (DecoderFallbackException) { throw Error($"{what} is not valid UTF-8"); }
    }
}
