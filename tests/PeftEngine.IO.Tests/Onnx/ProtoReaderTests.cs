using PeftEngine.IO.Onnx;

namespace PeftEngine.Tests;

/// <summary>The protobuf wire-format reader on hand-built bytes, and the ONNX model reader on a hand-built
/// ModelProto.</summary>
public class ProtoReaderTests
{
    [Fact]
    public void ReadsEveryWireTypeOfHandBuiltBytes()
    {
        byte[] bytes =
        [
            0x08, 0xAC, 0x02,                                           // field 1 varint 300
            0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,   // field 2 varint -1 (10 bytes)
            0x1D, 0x00, 0x00, 0xC0, 0x3F,                               // field 3 fixed32 1.5f
            0x21, 0, 0, 0, 0, 0, 0, 0x04, 0xC0,                         // field 4 fixed64 -2.5
            0x2A, 0x03, (byte)'a', (byte)'b', (byte)'c',                // field 5 "abc"
            0x32, 0x03, 0x01, 0x96, 0x01,                               // field 6 packed varints [1, 150]
        ];
        var r = new ProtoReader(bytes);
        Assert.True(r.TryReadTag(out int f, out var wt));
        Assert.Equal((1, ProtoWireType.Varint), (f, wt));
        Assert.Equal(300UL, r.ReadVarint());
        Assert.True(r.TryReadTag(out f, out wt));
        Assert.Equal(2, f);
        Assert.Equal(-1L, r.ReadInt64());
        Assert.True(r.TryReadTag(out f, out wt));
        Assert.Equal((3, ProtoWireType.Fixed32), (f, wt));
        Assert.Equal(1.5f, r.ReadFloat());
        Assert.True(r.TryReadTag(out f, out wt));
        Assert.Equal((4, ProtoWireType.Fixed64), (f, wt));
        Assert.Equal(-2.5, r.ReadDouble());
        Assert.True(r.TryReadTag(out f, out wt));
        Assert.Equal((5, ProtoWireType.LengthDelimited), (f, wt));
        Assert.Equal("abc", r.ReadString());
        Assert.True(r.TryReadTag(out f, out wt));
        var values = new List<long>();
        r.ReadRepeatedInt64(wt, values);
        Assert.Equal([1L, 150L], values);
        Assert.False(r.TryReadTag(out _, out _));
        Assert.True(r.AtEnd);
    }

    [Fact]
    public void SkipsUnknownFieldsOfEveryWireType()
    {
        byte[] bytes = [0x08, 0x05, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1A, 0x02, 9, 9, 0x25, 1, 2, 3, 4, 0x30, 0x07];
        var r = new ProtoReader(bytes);
        for (int i = 0; i < 4; i++)
        {
            Assert.True(r.TryReadTag(out _, out var wt));
            r.Skip(wt);
        }
        Assert.True(r.TryReadTag(out int f, out _));
        Assert.Equal(6, f);
        Assert.Equal(7UL, r.ReadVarint());
    }

    [Fact]
    public void MalformedBytesGiveErrorsWithTheOffset()
    {
        var truncatedVarint = new ProtoReader(new byte[] { 0x08, 0x80 }, "test message");
        Assert.True(truncatedVarint.TryReadTag(out _, out _));
        var e = Assert.Throws<InvalidDataException>(() => truncatedVarint.ReadVarint());
        Assert.Contains("test message", e.Message);
        Assert.Contains("byte 1", e.Message);

        var longLength = new ProtoReader(new byte[] { 0x0A, 0x05, 1, 2 });
        Assert.True(longLength.TryReadTag(out _, out _));
        Assert.Contains("past the end", Assert.Throws<InvalidDataException>(() => longLength.ReadBytes()).Message);

        var group = new ProtoReader(new byte[] { 0x0B });   // wire type 3 (start group)
        Assert.Contains("wire type 3", Assert.Throws<InvalidDataException>(() => group.TryReadTag(out _, out _)).Message);

        var tooLong = new ProtoReader(Enumerable.Repeat((byte)0xFF, 11).ToArray());
        Assert.Contains("longer than 10 bytes", Assert.Throws<InvalidDataException>(() => tooLong.ReadVarint()).Message);
    }

    [Fact]
    public void ReadsAHandBuiltOnnxModel()
    {
        // TensorProto "w": dims [2, 2] (unpacked), FLOAT, raw_data of 4 floats.
        var raw = new float[] { 1, 2, 3, 4 }.SelectMany(BitConverter.GetBytes).ToArray();
        var tensorW = Concat([0x08, 0x02, 0x08, 0x02, 0x10, 0x01], Str(8, "w"), Bytes(9, raw));
        // TensorProto "b": dims [2] (packed), FLOAT, float_data packed [0.5, -1].
        var floats = new float[] { 0.5f, -1 }.SelectMany(BitConverter.GetBytes).ToArray();
        var tensorB = Concat(Bytes(1, [0x02]), [0x10, 0x01], Str(8, "b"), Bytes(4, floats));
        // NodeProto MatMul(x, w) -> y named "mm", with an int attribute transB = 1.
        var attribute = Concat(Str(1, "transB"), [0x18, 0x01]);
        var node = Concat(Str(1, "x"), Str(1, "w"), Str(2, "y"), Str(3, "mm"), Str(4, "MatMul"), Bytes(5, attribute));
        var graph = Concat(Bytes(1, node), Str(2, "g"), Bytes(5, tensorW), Bytes(5, tensorB), Bytes(11, Str(1, "x")), Bytes(12, Str(1, "y")),
            [0xA0, 0x06, 0x01]);   // an unknown field (100, varint) is skipped
        var opset = Concat(Str(1, ""), [0x10, 0x0D]);
        var model = Concat([0x08, 0x07], Str(2, "hand"), Bytes(7, graph), Bytes(8, opset));

        var m = OnnxModelReader.Parse(model, "hand.onnx");
        Assert.Equal(7, m.IrVersion);
        Assert.Equal("hand", m.ProducerName);
        Assert.Equal(13, m.OpsetVersions[""]);
        Assert.Equal("g", m.Graph.Name);
        var n = Assert.Single(m.Graph.Nodes);
        Assert.Equal(("mm", "MatMul"), (n.Name, n.OpType));
        Assert.Equal(["x", "w"], n.Inputs);
        Assert.Equal(["y"], n.Outputs);
        Assert.Equal(1, n.IntAttribute("transB", 0));
        Assert.Equal(["x"], m.Graph.Inputs);
        Assert.Equal(["y"], m.Graph.Outputs);
        using var w = m.Graph.Initializer("w")!.ToTensor();
        Assert.Equal(new Shape(2, 2), w.Shape);
        Assert.Equal([1f, 2f, 3f, 4f], w.ToFloatArray());
        using var b = m.Graph.Initializer("b")!.ToTensor();
        Assert.Equal([0.5f, -1f], b.ToFloatArray());
        Assert.Same(n, m.Graph.Consumers("w").Single());
    }

    [Fact]
    public void TensorWithWrongDataLengthNamesTheTensor()
    {
        var tensor = Concat([0x08, 0x03, 0x10, 0x01], Str(8, "short"), Bytes(9, new byte[8]));
        var t = OnnxModelReader.ParseTensor(new ProtoReader(tensor));
        var e = Assert.Throws<InvalidDataException>(() => t.ToTensor());
        Assert.Contains("'short'", e.Message);
        Assert.Contains("8 bytes", e.Message);
        Assert.Contains("no graph", Assert.Throws<InvalidDataException>(() => OnnxModelReader.Parse(new byte[] { 0x08, 0x07 })).Message);
    }

    internal static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    internal static byte[] Str(int field, string value) => Bytes(field, System.Text.Encoding.UTF8.GetBytes(value));

    internal static byte[] Bytes(int field, byte[] value) => Concat(Varint((ulong)field << 3 | 2), Varint((ulong)value.Length), value);

    internal static byte[] Varint(ulong v)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(v & 0x7F);
            v >>= 7;
            bytes.Add(v != 0 ? (byte)(b | 0x80) : b);
        } while (v != 0);
        return bytes.ToArray();
    }
}
