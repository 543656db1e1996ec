using Xunit.Abstractions;
using PeftEngine.IO.Onnx;

namespace PeftEngine.Tests;

/// <summary>The ONNX reader on files written by the ONNX project itself (Debian package libonnx-testdata):
/// models and their reference input/output TensorProtos. These checks need the package
/// (`apt-get install libonnx-testdata`, which `.ci/run` does); without it they are reported as skipped.</summary>
public class OnnxTestDataTests(ITestOutputHelper output)
{
    private const string Root = "/usr/share/libonnx-testdata/data";

    /// <summary>A fact that runs only where libonnx-testdata is installed and is reported as skipped elsewhere.</summary>
    private sealed class FactWithTestDataAttribute : FactAttribute
    {
        public FactWithTestDataAttribute()
        {
            if (!Directory.Exists(Root)) Skip = $"needs the Debian package libonnx-testdata ({Root} is missing)";
        }
    }

    private static OnnxTensor ReadTensor(string path) =>
        OnnxModelReader.ParseTensor(new ProtoReader(File.ReadAllBytes(path), path));

    [FactWithTestData]
    public void MatMulNodeTestRecomputesTheReferenceOutput()
    {
        string dir = Path.Combine(Root, "node", "test_matmul_2d");
        var model = OnnxModelReader.Load(Path.Combine(dir, "model.onnx"));
        var node = Assert.Single(model.Graph.Nodes);
        Assert.Equal("MatMul", node.OpType);
        Assert.Equal(model.Graph.Inputs, node.Inputs);
        using var a = ReadTensor(Path.Combine(dir, "test_data_set_0", "input_0.pb")).ToTensor();
        using var b = ReadTensor(Path.Combine(dir, "test_data_set_0", "input_1.pb")).ToTensor();
        var expectedProto = ReadTensor(Path.Combine(dir, "test_data_set_0", "output_0.pb"));
        Assert.Equal(model.Graph.Outputs[0], expectedProto.Name);
        using var expected = expectedProto.ToTensor();
        using var c = Ops.MatMul(a, b);
        TestData.AssertClose(expected.ToDoubleArray(), c.ToDoubleArray(), atol: 1e-5, rtol: 1e-5, what: "matmul");
    }

    [FactWithTestData]
    public void LinearModelFromPyTorchHasItsInitializersAndRecomputesTheOutput()
    {
        string dir = Path.Combine(Root, "pytorch-converted", "test_Linear");
        var model = OnnxModelReader.Load(Path.Combine(dir, "model.onnx"));
        var gemm = Assert.Single(model.Graph.Nodes, n => n.OpType is "Gemm" or "MatMul");
        var weight = model.Graph.Initializer(gemm.Inputs[1]);
        Assert.NotNull(weight);
        Assert.Equal(2, weight!.Dims.Length);
        using var x = ReadTensor(Path.Combine(dir, "test_data_set_0", "input_0.pb")).ToTensor();
        using var expected = ReadTensor(Path.Combine(dir, "test_data_set_0", "output_0.pb")).ToTensor();
        using var w = weight.ToTensor();
        bool outIn = gemm.OpType == "Gemm" && gemm.IntAttribute("transB", 0) == 1;
        using var wt = outIn ? w.Alias() : Ops.Transpose(w, 0, 1);     // -> [out, in]
        var biasProto = gemm.Inputs.Count > 2 ? model.Graph.Initializer(gemm.Inputs[2]) : null;
        using var bias = biasProto?.ToTensor();
        using var y = Ops.Linear(x, wt, bias);
        output.WriteLine($"test_Linear: {gemm}, weight [{string.Join(", ", weight.Dims)}], transB={outIn}");
        TestData.AssertClose(expected.ToDoubleArray(), y.ToDoubleArray(), atol: 1e-5, rtol: 1e-5, what: "linear");
    }
}
