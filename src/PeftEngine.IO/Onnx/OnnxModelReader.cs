namespace PeftEngine.IO.Onnx;

/// <summary>
/// Parses the parts of an ONNX file an importer needs (ModelProto -> GraphProto -> nodes and initializers) with
/// <see cref="ProtoReader"/>; every other field is skipped. Field numbers are those of onnx/onnx.proto.
/// </summary>
/// <remarks>Python: onnx.load(path, load_external_data=False). Initializer data is not copied: raw_data stays a
/// slice of the bytes given.</remarks>
public static class OnnxModelReader
{
    /// <summary>Reads a .onnx file.</summary>
    public static OnnxModel Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX model '{path}' not found", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses a serialized ModelProto; <paramref name="source"/> names it in errors.</summary>
    public static OnnxModel Parse(ReadOnlyMemory<byte> bytes, string source = "model.onnx")
    {
        var r = new ProtoReader(bytes, $"ONNX model '{source}'");
        long irVersion = 0;
        string producer = "";
        var opsets = new Dictionary<string, long>();
        OnnxGraph? graph = null;
        while (r.TryReadTag(out int field, out var wt))
        {
            switch (field)
            {
                case 1 when wt == ProtoWireType.Varint: irVersion = r.ReadInt64(); break;
                case 2 when wt == ProtoWireType.LengthDelimited: producer = r.ReadString(); break;
                case 7 when wt == ProtoWireType.LengthDelimited: graph = ParseGraph(r.ReadMessage($"ONNX graph in '{source}'")); break;
                case 8 when wt == ProtoWireType.LengthDelimited:
                    var (domain, version) = ParseOpset(r.ReadMessage($"ONNX opset_import in '{source}'"));
                    opsets[domain] = version;
                    break;
                default: r.Skip(wt); break;
            }
        }
        if (graph is null) throw new InvalidDataException($"ONNX model '{source}': no graph (field 7) found; is this an ONNX file?");
        return new OnnxModel(irVersion, producer, opsets, graph);
    }

    private static (string Domain, long Version) ParseOpset(ProtoReader r)
    {
        string domain = "";
        long version = 0;
        while (r.TryReadTag(out int field, out var wt))
        {
            if (field == 1 && wt == ProtoWireType.LengthDelimited) domain = r.ReadString();
            else if (field == 2 && wt == ProtoWireType.Varint) version = r.ReadInt64();
            else r.Skip(wt);
        }
        return (domain, version);
    }

    private static OnnxGraph ParseGraph(ProtoReader r)
    {
        string name = "";
        var nodes = new List<OnnxNode>();
        var initializers = new List<OnnxTensor>();
        var inputs = new List<string>();
        var outputs = new List<string>();
        while (r.TryReadTag(out int field, out var wt))
        {
            switch (field)
            {
                case 1 when wt == ProtoWireType.LengthDelimited: nodes.Add(ParseNode(r.ReadMessage($"{r.What}, node {nodes.Count}"))); break;
                case 2 when wt == ProtoWireType.LengthDelimited: name = r.ReadString(); break;
                case 5 when wt == ProtoWireType.LengthDelimited: initializers.Add(ParseTensor(r.ReadMessage($"{r.What}, initializer {initializers.Count}"))); break;
                case 11 when wt == ProtoWireType.LengthDelimited: inputs.Add(ParseValueInfoName(r.ReadMessage($"{r.What}, input"))); break;
                case 12 when wt == ProtoWireType.LengthDelimited: outputs.Add(ParseValueInfoName(r.ReadMessage($"{r.What}, output"))); break;
                default: r.Skip(wt); break;
            }
        }
        return new OnnxGraph(name, nodes, initializers, inputs, outputs);
    }

    private static OnnxNode ParseNode(ProtoReader r)
    {
        var inputs = new List<string>();
        var outputs = new List<string>();
        string name = "", opType = "", domain = "";
        var attributes = new Dictionary<string, OnnxAttribute>();
        while (r.TryReadTag(out int field, out var wt))
        {
            switch (field)
            {
                case 5 when wt == ProtoWireType.LengthDelimited:
                    var attribute = ParseAttribute(r.ReadMessage($"{r.What}, attribute"));
                    attributes[attribute.Name] = attribute;
                    break;
                case 1 when wt == ProtoWireType.LengthDelimited: inputs.Add(r.ReadString()); break;
                case 2 when wt == ProtoWireType.LengthDelimited: outputs.Add(r.ReadString()); break;
                case 3 when wt == ProtoWireType.LengthDelimited: name = r.ReadString(); break;
                case 4 when wt == ProtoWireType.LengthDelimited: opType = r.ReadString(); break;
                case 7 when wt == ProtoWireType.LengthDelimited: domain = r.ReadString(); break;
                default: r.Skip(wt); break;
            }
        }
        return new OnnxNode(name, opType, domain, inputs, outputs, attributes);
    }

    private static OnnxAttribute ParseAttribute(ProtoReader r)
    {
        string name = "";
        long? i = null;
        float? f = null;
        OnnxTensor? t = null;
        while (r.TryReadTag(out int field, out var wt))
        {
            switch (field)
            {
                case 1 when wt == ProtoWireType.LengthDelimited: name = r.ReadString(); break;
                case 2 when wt == ProtoWireType.Fixed32: f = r.ReadFloat(); break;
                case 3 when wt == ProtoWireType.Varint: i = r.ReadInt64(); break;
                case 5 when wt == ProtoWireType.LengthDelimited: t = ParseTensor(r.ReadMessage($"{r.What} tensor")); break;
                default: r.Skip(wt); break;
            }
        }
        return new OnnxAttribute(name, i, f, t);
    }

    private static string ParseValueInfoName(ProtoReader r)
    {
        string name = "";
        while (r.TryReadTag(out int field, out var wt))
        {
            if (field == 1 && wt == ProtoWireType.LengthDelimited) name = r.ReadString();
            else r.Skip(wt);
        }
        return name;
    }

    /// <summary>Parses a serialized TensorProto.</summary>
    public static OnnxTensor ParseTensor(ProtoReader r)
    {
        var dims = new List<long>();
        var floats = new List<float>();
        var int32s = new List<long>();
        var int64s = new List<long>();
        var doubles = new List<double>();
        int dataType = 0;
        long dataLocation = 0;
        string name = "";
        ReadOnlyMemory<byte> raw = default;
        while (r.TryReadTag(out int field, out var wt))
        {
            switch (field)
            {
                case 1: r.ReadRepeatedInt64(wt, dims); break;
                case 2 when wt == ProtoWireType.Varint: dataType = (int)r.ReadInt64(); break;
                case 4: r.ReadRepeatedFloat(wt, floats); break;
                case 5: r.ReadRepeatedInt64(wt, int32s); break;
                case 7: r.ReadRepeatedInt64(wt, int64s); break;
                case 8 when wt == ProtoWireType.LengthDelimited: name = r.ReadString(); break;
                case 9 when wt == ProtoWireType.LengthDelimited: raw = r.ReadBytes(); break;
                case 10: r.ReadRepeatedDouble(wt, doubles); break;
                case 14 when wt == ProtoWireType.Varint: dataLocation = r.ReadInt64(); break;
                default: r.Skip(wt); break;
            }
        }
        if (dataLocation == 1)
            throw new NotSupportedException($"{r.What}: tensor '{name}' keeps its data in an external file, which is not supported");
        if (dims.Any(d => d < 0 || d > int.MaxValue))
            throw new InvalidDataException($"{r.What}: tensor '{name}' has invalid dims [{string.Join(", ", dims)}]");
        return new OnnxTensor
        {
            Name = name, DataType = dataType, Dims = dims.ToArray(), RawData = raw,
            FloatData = floats.ToArray(), Int32Data = int32s.ToArray(), Int64Data = int64s.ToArray(), DoubleData = doubles.ToArray(),
        };
    }
}
