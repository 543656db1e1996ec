using System.Text;

namespace PeftEngine.Tests;

/// <summary>
/// Writes a BERT encoder as torch.onnx.export lays it out, from HF-named weights: embeddings, biases, LayerNorms
/// and the pooler keep their names, the MatMul weights become anonymous initializers stored [in, out], each bias is
/// added by an Add node after its MatMul, heads are split by a Reshape whose shape is a Concat of constants, the
/// LayerNorms are decomposed (ReduceMean, Sub, Pow, Sqrt of variance plus a Constant epsilon, ...), GELU uses Erf
/// and the pooler is a Gemm with transB = 1. The graph is only structurally faithful (it is not meant to run).
/// </summary>
internal sealed class SyntheticBertOnnx
{
    private readonly List<byte[]> _nodes = new();
    private readonly List<byte[]> _initializers = new();
    private int _counter = 900;
    private IReadOnlyDictionary<string, Tensor>? _weights;

    /// <summary>Options that let tests break the graph in chosen places.</summary>
    public bool DropBiasLinkOfLayer1Value { get; init; }
    public string Layer1ValueNodeName { get; init; } = "MatMul_layer1_value";
    public bool OmitErf { get; init; }

    public byte[] Build(IReadOnlyDictionary<string, Tensor> weights, int layers, int heads, float eps)
    {
        _weights = weights;
        foreach (var name in new[] { "embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                     "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias" })
            AddInitializer(name, weights[name]);
        Node("Gather_0", "Gather", ["embeddings.word_embeddings.weight", "input_ids"], ["e0"]);
        Node("Gather_1", "Gather", ["embeddings.token_type_embeddings.weight", "token_type_ids"], ["e1"]);
        Node("Add_2", "Add", ["e0", "e1"], ["e2"]);
        string x = LayerNorm("embeddings.LayerNorm", "e2", eps);
        int hidden = weights["embeddings.word_embeddings.weight"].Shape[1];
        AddIntInitializer("heads_const", heads);
        AddIntInitializer("head_dim_const", hidden / heads);
        for (int l = 0; l < layers; l++)
        {
            string p = $"encoder.layer.{l}.";
            // value first, then query, then key: naming must follow the graph, not the order
            string v = Projection(weights, p + "attention.self.value", x, l == 1 && DropBiasLinkOfLayer1Value, l == 1 ? Layer1ValueNodeName : null);
            string q = Projection(weights, p + "attention.self.query", x);
            string k = Projection(weights, p + "attention.self.key", x);
            foreach (var t in new[] { q, k, v })
            {
                Node($"Shape_{_counter}", "Shape", [t], [t + "_shape"]);
                Node($"Concat_{_counter}", "Concat", [t + "_shape", "heads_const", "head_dim_const"], [t + "_split_shape"]);
                Node($"Reshape_{_counter}", "Reshape", [t, t + "_split_shape"], [t + "_heads"]);
            }
            Node($"MatMul_scores_{l}", "MatMul", [q + "_heads", k + "_heads"], [$"scores{l}"]);
            Node($"Softmax_{l}", "Softmax", [$"scores{l}"], [$"probs{l}"]);
            Node($"MatMul_context_{l}", "MatMul", [$"probs{l}", v + "_heads"], [$"context{l}"]);
            string ao = Projection(weights, p + "attention.output.dense", $"context{l}");
            Node($"Add_res_a{l}", "Add", [ao, x], [$"res_a{l}"]);
            string h = LayerNorm(p + "attention.output.LayerNorm", $"res_a{l}", eps);
            string inter = Projection(weights, p + "intermediate.dense", h);
            if (!OmitErf) Node($"Erf_{l}", "Erf", [inter], [$"erf{l}"]);
            string o = Projection(weights, p + "output.dense", OmitErf ? inter : $"erf{l}");
            Node($"Add_res_o{l}", "Add", [o, h], [$"res_o{l}"]);
            x = LayerNorm(p + "output.LayerNorm", $"res_o{l}", eps);
        }
        AddInitializer("pooler.dense.weight", weights["pooler.dense.weight"]);   // Gemm keeps [out, in]
        AddInitializer("pooler.dense.bias", weights["pooler.dense.bias"]);
        Node("Gather_cls", "Gather", [x, "zero"], ["cls"]);
        Node("Gemm_pooler", "Gemm", ["cls", "pooler.dense.weight", "pooler.dense.bias"], ["pooled_linear"], transB: 1);
        Node("Tanh_pooler", "Tanh", ["pooled_linear"], ["pooled"]);

        var graph = new List<byte[]>();
        graph.AddRange(_nodes.Select(n => Bytes(1, n)));
        graph.Add(Str(2, "torch_jit"));
        graph.AddRange(_initializers.Select(t => Bytes(5, t)));
        foreach (var input in new[] { "input_ids", "attention_mask", "token_type_ids" }) graph.Add(Bytes(11, Str(1, input)));
        graph.Add(Bytes(12, Str(1, x)));
        graph.Add(Bytes(12, Str(1, "pooled")));
        var opset = Concat(Str(1, ""), Tag(2, 0), Varint(13));
        return Concat(Tag(1, 0), Varint(7), Str(2, "pytorch"), Bytes(7, Concat(graph.ToArray())), Bytes(8, opset));
    }

    private string Projection(IReadOnlyDictionary<string, Tensor> weights, string module, string input, bool dropBiasLink = false, string? nodeName = null)
    {
        string anonymous = (_counter++).ToString(System.Globalization.CultureInfo.InvariantCulture);
        using (var t = Ops.Transpose(weights[module + ".weight"], 0, 1))   // [out, in] -> [in, out]
        using (var stored = Ops.Contiguous(t))
            AddInitializer(anonymous, stored);
        AddInitializer(module + ".bias", weights[module + ".bias"]);
        string mm = $"mm{_counter}";
        Node(nodeName ?? $"MatMul_{_counter}", "MatMul", [input, anonymous], [mm]);
        string output = $"lin{_counter}";
        if (dropBiasLink)
            Node($"Add_{_counter}", "Add", [mm, "some_other_tensor"], [output]);
        else
            Node($"Add_{_counter}", "Add", [module + ".bias", mm], [output]);
        return output;
    }

    private string LayerNorm(string module, string input, float eps)
    {
        AddInitializer(module + ".weight", null);
        AddInitializer(module + ".bias", null);
        string n = $"ln{_counter++}";
        Node($"ReduceMean_{n}", "ReduceMean", [input], [n + "_mean"]);
        Node($"Sub_{n}", "Sub", [input, n + "_mean"], [n + "_centered"]);
        Node($"Pow_{n}", "Pow", [n + "_centered", "two"], [n + "_sq"]);
        Node($"ReduceMean2_{n}", "ReduceMean", [n + "_sq"], [n + "_var"]);
        Node($"Constant_{n}", "Constant", [], [n + "_eps"], value: FloatTensor("", [eps], []));
        Node($"Add_{n}", "Add", [n + "_var", n + "_eps"], [n + "_vareps"]);
        Node($"Sqrt_{n}", "Sqrt", [n + "_vareps"], [n + "_std"]);
        Node($"Div_{n}", "Div", [n + "_centered", n + "_std"], [n + "_normed"]);
        Node($"Mul_{n}", "Mul", [n + "_normed", module + ".weight"], [n + "_scaled"]);
        Node($"AddB_{n}", "Add", [n + "_scaled", module + ".bias"], [n + "_out"]);
        return n + "_out";
    }

    private void AddInitializer(string name, Tensor? value)
    {
        value ??= _weights![name];
        _initializers.Add(FloatTensor(name, value.ToFloatArray(), value.Shape.ToArray().Select(d => (long)d).ToArray()));
    }

    private void AddIntInitializer(string name, long value) =>
        _initializers.Add(Concat(Bytes(1, Varint(1)), Tag(2, 0), Varint(7), Str(8, name), Bytes(9, BitConverter.GetBytes(value))));

    private static byte[] FloatTensor(string name, float[] values, long[] dims)
    {
        var parts = new List<byte[]>();
        foreach (var d in dims) parts.Add(Concat(Tag(1, 0), Varint((ulong)d)));
        parts.Add(Concat(Tag(2, 0), Varint(1)));
        parts.Add(Str(8, name));
        parts.Add(Bytes(9, values.SelectMany(BitConverter.GetBytes).ToArray()));
        return Concat(parts.ToArray());
    }

    private void Node(string name, string op, string[] inputs, string[] outputs, long? transB = null, byte[]? value = null)
    {
        var parts = new List<byte[]>();
        parts.AddRange(inputs.Select(i => Str(1, i)));
        parts.AddRange(outputs.Select(o => Str(2, o)));
        parts.Add(Str(3, name));
        parts.Add(Str(4, op));
        if (transB is long tb) parts.Add(Bytes(5, Concat(Str(1, "transB"), Tag(3, 0), Varint((ulong)tb))));
        if (value is not null) parts.Add(Bytes(5, Concat(Str(1, "value"), Bytes(5, value))));
        _nodes.Add(Concat(parts.ToArray()));
    }

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
    private static byte[] Tag(int field, int wireType) => Varint((ulong)field << 3 | (uint)wireType);
    private static byte[] Str(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));
    private static byte[] Bytes(int field, byte[] value) => Concat(Tag(field, 2), Varint((ulong)value.Length), value);

    private static byte[] Varint(ulong v)
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
