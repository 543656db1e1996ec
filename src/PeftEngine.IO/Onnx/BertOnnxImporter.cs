using System.Globalization;
using System.Text.RegularExpressions;

namespace PeftEngine.IO.Onnx;

/// <summary>
/// Recovers a Hugging Face BERT state dict and config from a BERT encoder exported to ONNX by torch.onnx.
/// Biases, LayerNorms, embeddings and the pooler keep their HF names in such exports, but the weights of the
/// Linear layers that became MatMul nodes are anonymous initializers stored [in, out]. Each one is named by
/// following the graph: the Add that consumes the MatMul's output adds the HF-named bias
/// (<c>encoder.layer.3.attention.self.query.bias</c> names <c>encoder.layer.3.attention.self.query.weight</c>);
/// failing that, the node name (<c>/encoder/layer.3/attention/self/query/MatMul</c>). The weights are then
/// transposed to nn.Linear's [out, in]. Anything that does not fit is an error naming the node.
/// </summary>
/// <remarks>The inverse of torch.onnx.export(BertModel) for weights; the config comes from the tensor shapes,
/// the head count from the reshape that splits the query into heads, layer_norm_eps from the constant added to
/// the variance, and hidden_act from the presence of Erf (exact GELU).</remarks>
public static partial class BertOnnxImporter
{
    /// <summary>Converts <paramref name="graph"/>; <paramref name="source"/> names it in errors. The caller owns
    /// (and disposes) the returned tensors.</summary>
    public static BertOnnxImport Convert(OnnxGraph graph, string source)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var weights = new Dictionary<string, Tensor>();
        var renamed = new List<(string Stored, string Name)>();
        try
        {
            NameLinearWeights(graph, source, weights, renamed);
            foreach (var t in graph.Initializers)
                if (IsNamedBertTensor(t.Name) && !weights.ContainsKey(t.Name) && t.DataType == (int)OnnxDataType.Float)
                    weights[t.Name] = t.ToTensor();
            var config = DeriveConfig(graph, source, weights);
            return new BertOnnxImport(config, weights, renamed);
        }
        catch
        {
            foreach (var t in weights.Values) t.Dispose();
            throw;
        }
    }

    private static void NameLinearWeights(OnnxGraph graph, string source, Dictionary<string, Tensor> weights, List<(string, string)> renamed)
    {
        foreach (var node in graph.Nodes)
        {
            if (node.OpType is not ("MatMul" or "Gemm") || node.Inputs.Count < 2) continue;
            var w = graph.Initializer(node.Inputs[1]);
            if (w is null) continue;   // activation x activation (scores, context): no weight
            if (w.Dims.Length != 2 || w.DataType != (int)OnnxDataType.Float)
                throw new InvalidDataException($"ONNX import '{source}': {node} multiplies by initializer '{w.Name}' of type {w.DataType} dims [{string.Join(", ", w.Dims)}]; expected a 2-D float weight");
            string name = node.OpType == "Gemm" && IsNamedBertTensor(w.Name) ? w.Name
                : NameFromBias(graph, node) ?? NameFromNodeName(node)
                ?? throw new InvalidDataException($"ONNX import '{source}': cannot name the weight '{w.Name}' of {node}: no consumer adds a '*.bias' initializer and the node name is not a module path");
            if (!LinearWeight().IsMatch(name))
                throw new InvalidDataException($"ONNX import '{source}': {node} was named '{name}', which is not a BERT Linear weight (encoder.layer.N.attention.self.query|key|value, attention.output.dense, intermediate.dense, output.dense, pooler.dense)");
            if (weights.ContainsKey(name))
                throw new InvalidDataException($"ONNX import '{source}': {node} gives a second weight for '{name}'");
            // MatMul computes x·W with W stored [in, out]; Gemm with transB = 1 stores nn.Linear's [out, in].
            bool storedOutIn = node.OpType == "Gemm" && node.IntAttribute("transB", 0) == 1;
            using var stored = w.ToTensor();
            weights[name] = storedOutIn ? Ops.Clone(stored) : TransposeContiguous(stored);   // [in, out] -> [out, in]
            if (name != w.Name) renamed.Add((w.Name, name));
        }
    }

    private static Tensor TransposeContiguous(Tensor t)
    {
        using var view = Ops.Transpose(t, 0, 1);
        return Ops.Contiguous(view);
    }

    private static string? NameFromBias(OnnxGraph graph, OnnxNode node)
    {
        if (node.OpType == "Gemm" && node.Inputs.Count > 2 && graph.Initializer(node.Inputs[2]) is { } gemmBias
            && gemmBias.Name.EndsWith(".bias", StringComparison.Ordinal))
            return gemmBias.Name[..^".bias".Length] + ".weight";
        foreach (var consumer in graph.Consumers(node.Outputs[0]))
        {
            if (consumer.OpType != "Add") continue;
            foreach (var input in consumer.Inputs)
                if (input != node.Outputs[0] && input.EndsWith(".bias", StringComparison.Ordinal) && graph.Initializer(input) is not null)
                    return input[..^".bias".Length] + ".weight";
        }
        return null;
    }

    private static string? NameFromNodeName(OnnxNode node)
    {
        // "/encoder/layer.0/attention/self/query/MatMul" -> "encoder.layer.0.attention.self.query.weight"
        var m = NodePath().Match(node.Name);
        if (!m.Success) return null;
        string path = m.Groups[1].Value.Replace('/', '.');
        if (path.StartsWith("bert.", StringComparison.Ordinal)) path = path["bert.".Length..];
        return path + ".weight";
    }

    private static bool IsNamedBertTensor(string name) =>
        name.StartsWith("embeddings.", StringComparison.Ordinal) && name != "embeddings.position_ids"
        || name.StartsWith("encoder.layer.", StringComparison.Ordinal)
        || name.StartsWith("pooler.", StringComparison.Ordinal);

    [GeneratedRegex(@"^(encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)|pooler\.dense)\.weight$")]
    private static partial Regex LinearWeight();

    [GeneratedRegex(@"^/?((?:bert/)?(?:encoder/layer\.\d+/[a-z_/]+?|pooler/dense))/(?:MatMul|Gemm)$")]
    private static partial Regex NodePath();

    [GeneratedRegex(@"^encoder\.layer\.(\d+)\.")]
    private static partial Regex LayerIndex();

    internal static int LayerOf(string name)
    {
        var m = LayerIndex().Match(name);
        return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }
}
