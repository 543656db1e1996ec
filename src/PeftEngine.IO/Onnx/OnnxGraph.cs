namespace PeftEngine.IO.Onnx;

/// <summary>A node attribute; only the single-value kinds are kept (an int, a float or a tensor).</summary>
/// <remarks>ONNX: onnx.AttributeProto (fields i, f, t).</remarks>
public sealed record OnnxAttribute(string Name, long? Int, float? Float, OnnxTensor? Tensor);

/// <summary>One operator of an ONNX graph: its type, the names of the values it reads and writes, and its
/// single-value attributes (e.g. Gemm's transB, a Constant's value).</summary>
/// <remarks>ONNX: onnx.NodeProto.</remarks>
public sealed record OnnxNode(string Name, string OpType, string Domain, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
    IReadOnlyDictionary<string, OnnxAttribute> Attributes)
{
    /// <summary>The int attribute <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
    public long IntAttribute(string name, long fallback) => Attributes.TryGetValue(name, out var a) && a.Int is long v ? v : fallback;

    /// <summary>A short description for error messages: name, op type and inputs.</summary>
    public override string ToString() =>
        $"node '{(Name.Length > 0 ? Name : "(unnamed)")}' ({OpType}, inputs [{string.Join(", ", Inputs)}])";
}

/// <summary>An ONNX graph: nodes in topological order, the stored initializers, and the names of the graph's
/// inputs and outputs.</summary>
/// <remarks>ONNX: onnx.GraphProto (value types of inputs and outputs are not read).</remarks>
public sealed record OnnxGraph(string Name, IReadOnlyList<OnnxNode> Nodes, IReadOnlyList<OnnxTensor> Initializers,
    IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs)
{
    private Dictionary<string, OnnxTensor>? _byName;

    /// <summary>The initializer called <paramref name="name"/>, or null when <paramref name="name"/> is computed.</summary>
    public OnnxTensor? Initializer(string name)
    {
        _byName ??= Initializers.GroupBy(t => t.Name).ToDictionary(g => g.Key, g => g.First());
        return _byName.GetValueOrDefault(name);
    }

    /// <summary>The nodes that read the value <paramref name="name"/>.</summary>
    public IEnumerable<OnnxNode> Consumers(string name) => Nodes.Where(n => n.Inputs.Contains(name));
}

/// <summary>An ONNX model file: format version, operator-set versions, producer and the main graph.</summary>
/// <remarks>ONNX: onnx.ModelProto; Python: onnx.load(path).</remarks>
public sealed record OnnxModel(long IrVersion, string ProducerName, IReadOnlyDictionary<string, long> OpsetVersions, OnnxGraph Graph);
