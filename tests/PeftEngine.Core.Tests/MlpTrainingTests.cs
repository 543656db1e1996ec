namespace PeftEngine.Tests;

/// <summary>End-to-end: small networks built from the ops learn with plain SGD.</summary>
public class MlpTrainingTests
{
    private static void SgdStep(double lr, params Tensor[] parameters)
    {
        using (GradMode.Disable())
            foreach (var p in parameters)
            {
                using var step = Ops.Mul(p.Grad!, lr);
                Ops.SubInPlace(p, step);
                p.ZeroGrad();
            }
    }

    [Fact]
    public void TwoLayerMlpLearnsXor()
    {
        var gen = new Generator(7);
        var w1 = (Tensor.Randn(new Shape(8, 2), gen) * 1.0).RequireGrad();   // (hidden, in)
        var b1 = Tensor.Zeros(new Shape(8)).RequireGrad();
        var w2 = (Tensor.Randn(new Shape(1, 8), gen) * 0.5).RequireGrad();   // (out, hidden)
        var b2 = Tensor.Zeros(new Shape(1)).RequireGrad();
        using var x = Tensor.FromArray(new float[] { 0, 0, 0, 1, 1, 0, 1, 1 }, 4, 2);
        using var y = Tensor.FromArray(new float[] { 0, 1, 1, 0 }, 4, 1);

        double first = 0, last = 0;
        for (int step = 0; step < 1500; step++)
        {
            using var scope = TensorScope.Begin();
            var h = Ops.Tanh(Ops.Linear(x, w1, b1));          // (4, 2) -> (4, 8)
            var pred = Ops.Sigmoid(Ops.Linear(h, w2, b2));     // (4, 8) -> (4, 1)
            var loss = Ops.MseLoss(pred, y);
            loss.Backward();
            SgdStep(2.0, w1, b1, w2, b2);
            if (step == 0) first = loss.Item();
            last = loss.Item();
        }
        Assert.True(last < 0.01, $"loss went from {first} to {last}");
        using (GradMode.Disable())
        {
            using var h = Ops.Tanh(Ops.Linear(x, w1, b1));
            using var pred = Ops.Sigmoid(Ops.Linear(h, w2, b2));
            var p = pred.ToArray<float>();
            Assert.Equal(new[] { 0, 1, 1, 0 }, p.Select(v => v > 0.5f ? 1 : 0).ToArray());
        }
    }

    [Fact]
    public void LinearRegressionRecoversItsWeights()
    {
        // y = x·[2, -3]ᵀ + 0.5 from 64 random points; SGD on the mean squared error.
        var gen = new Generator(11);
        using var x = Tensor.Randn(new Shape(64, 2), gen, DType.F64);
        using var trueW = Tensor.FromArray(new double[] { 2, -3 }, 1, 2);
        using var target = Ops.Linear(x, trueW, Tensor.FromArray(new double[] { 0.5 }));
        var w = Tensor.Zeros(new Shape(1, 2), DType.F64).RequireGrad();
        var b = Tensor.Zeros(new Shape(1), DType.F64).RequireGrad();
        for (int step = 0; step < 300; step++)
        {
            using var scope = TensorScope.Begin();
            var loss = Ops.MseLoss(Ops.Linear(x, w, b), target);
            loss.Backward();
            SgdStep(0.1, w, b);
        }
        TestData.AssertClose(new double[] { 2, -3 }, w.ToArray<double>(), atol: 1e-4);
        TestData.AssertClose(new double[] { 0.5 }, b.ToArray<double>(), atol: 1e-4);
    }
}
