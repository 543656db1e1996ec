namespace PeftEngine.IO.Onnx;

public static partial class BertOnnxImporter
{
    private static readonly string[] LayerTensors =
    [
        "attention.self.query.weight", "attention.self.query.bias", "attention.self.key.weight", "attention.self.key.bias",
        "attention.self.value.weight", "attention.self.value.bias", "attention.output.dense.weight", "attention.output.dense.bias",
        "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias", "intermediate.dense.weight", "intermediate.dense.bias",
        "output.dense.weight", "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias",
    ];

    private static BertConfig DeriveConfig(OnnxGraph graph, string source, Dictionary<string, Tensor> weights)
    {
        Tensor Need(string name) => weights.TryGetValue(name, out var t) ? t
            : throw new InvalidDataException($"ONNX import '{source}': the graph has no tensor '{name}' (a BERT export names it so)");
        var words = Need("embeddings.word_embeddings.weight");
        var positions = Need("embeddings.position_embeddings.weight");
        var types = Need("embeddings.token_type_embeddings.weight");
        Need("embeddings.LayerNorm.weight");
        Need("embeddings.LayerNorm.bias");
        int hidden = words.Shape[1];
        int layers = weights.Keys.Select(LayerOf).DefaultIfEmpty(-1).Max() + 1;
        if (layers == 0) throw new InvalidDataException($"ONNX import '{source}': no encoder.layer.N tensors found");
        for (int i = 0; i < layers; i++)
            foreach (var suffix in LayerTensors) Need($"encoder.layer.{i}.{suffix}");
        bool pooler = weights.ContainsKey("pooler.dense.weight");
        if (pooler) Need("pooler.dense.bias");
        int expected = 5 + 16 * layers + (pooler ? 2 : 0);
        if (weights.Count != expected)
            throw new InvalidDataException($"ONNX import '{source}': found {weights.Count} BERT tensors, expected {expected}: unexpected {string.Join(", ", weights.Keys.Where(k => !IsExpected(k, layers)))}");

        int intermediate = Need("encoder.layer.0.intermediate.dense.weight").Shape[0];
        int heads = HeadCount(graph, source, hidden);
        return new BertConfig
        {
            ModelType = "bert",
            Architectures = ["BertModel"],
            VocabSize = words.Shape[0],
            HiddenSize = hidden,
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            IntermediateSize = intermediate,
            MaxPositionEmbeddings = positions.Shape[0],
            TypeVocabSize = types.Shape[0],
            HiddenAct = Activation(graph, source, layers),
            LayerNormEps = LayerNormEps(graph, source),
            HiddenDropoutProb = 0.1,
            AttentionProbsDropoutProb = 0.1,
            PadTokenId = 0,
            TorchDtype = "float32",
        };
    }

    private static bool IsExpected(string name, int layers)
    {
        int layer = LayerOf(name);
        if (layer >= 0) return layer < layers && LayerTensors.Any(s => name == $"encoder.layer.{layer}.{s}");
        return name is "embeddings.word_embeddings.weight" or "embeddings.position_embeddings.weight" or "embeddings.token_type_embeddings.weight"
            or "embeddings.LayerNorm.weight" or "embeddings.LayerNorm.bias" or "pooler.dense.weight" or "pooler.dense.bias";
    }

    /// <summary>The head count from the shape that splits layer 0's query into heads: (B, T, heads, head_dim).</summary>
    private static int HeadCount(OnnxGraph graph, string source, int hidden)
    {
        const string bias = "encoder.layer.0.attention.self.query.bias";
        var add = graph.Consumers(bias).FirstOrDefault(n => n.OpType == "Add")
            ?? throw new InvalidDataException($"ONNX import '{source}': no Add node reads '{bias}', so the query projection cannot be followed");
        var reshape = graph.Consumers(add.Outputs[0]).FirstOrDefault(n => n.OpType == "Reshape")
            ?? throw new InvalidDataException($"ONNX import '{source}': the output of {add} is never reshaped into heads");
        var shape = IntValues(graph, reshape.Inputs[1]);
        if (shape is null || shape.Length < 2 || shape[^2] <= 0 || shape[^1] <= 0 || shape[^2] * shape[^1] != hidden)
            throw new InvalidDataException($"ONNX import '{source}': {reshape} does not split {hidden} features into (heads, head_dim); shape [{string.Join(", ", shape ?? [])}]");
        return (int)shape[^2];
    }

    /// <summary>The values of an int64 constant: an initializer, a Constant node, or a Concat of such pieces
    /// (a computed piece reads as -1).</summary>
    private static long[]? IntValues(OnnxGraph graph, string name)
    {
        if (ConstantTensor(graph, name) is { } t)
        {
            using var values = t.ToTensor();
            return values.ToArray<long>();
        }
        var producer = graph.Nodes.FirstOrDefault(n => n.Outputs.Contains(name));
        if (producer?.OpType == "Concat")
            return producer.Inputs.SelectMany(i => IntValues(graph, i) ?? [-1]).ToArray();
        return null;
    }

    private static OnnxTensor? ConstantTensor(OnnxGraph graph, string name) =>
        graph.Initializer(name)
        ?? graph.Nodes.FirstOrDefault(n => n.OpType == "Constant" && n.Outputs.Contains(name))?.Attributes.GetValueOrDefault("value")?.Tensor;

    /// <summary>The epsilon of the first LayerNorm: a LayerNormalization node's attribute, or the constant that
    /// the decomposed form adds to the variance before Sqrt.</summary>
    private static double LayerNormEps(OnnxGraph graph, string source)
    {
        if (graph.Nodes.FirstOrDefault(n => n.OpType == "LayerNormalization") is { } ln)
            return ln.Attributes.TryGetValue("epsilon", out var e) && e.Float is float f ? f : 1e-5;
        foreach (var sqrt in graph.Nodes.Where(n => n.OpType == "Sqrt"))
        {
            var add = graph.Nodes.FirstOrDefault(n => n.OpType == "Add" && n.Outputs.Contains(sqrt.Inputs[0]));
            if (add is null) continue;
            foreach (var input in add.Inputs)
                if (ConstantTensor(graph, input) is { Numel: 1 } c && c.DataType is (int)OnnxDataType.Float or (int)OnnxDataType.Double)
                {
                    using var value = c.ToTensor();
                    double eps = value.ToDoubleArray()[0];
                    // a float32 constant: keep the shortest decimal that rounds to it (1e-12, not 9.99999996e-13)
                    return c.DataType == (int)OnnxDataType.Float
                        ? double.Parse(((float)eps).ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture)
                        : eps;
                }
        }
        throw new InvalidDataException($"ONNX import '{source}': found neither a LayerNormalization node nor a Sqrt(Add(variance, epsilon)) pattern to read layer_norm_eps from");
    }

    private static string Activation(OnnxGraph graph, string source, int layers)
    {
        int erf = graph.Nodes.Count(n => n.OpType == "Erf");
        if (erf == layers) return "gelu";
        throw new InvalidDataException($"ONNX import '{source}': expected one Erf node per layer (exact GELU, hidden_act 'gelu'), found {erf} for {layers} layers; other activations are not supported");
    }
}
