using PeftEngine.Nn;
using PeftEngine.Peft;

namespace PeftEngine.Tests;

/// <summary>Small helpers shared by the PEFT tests.</summary>
internal static class Harness
{
    /// <summary>The model's output on <paramref name="input"/> in evaluation mode, without gradients.</summary>
    public static double[] Run(Module model, Tensor input)
    {
        bool training = model.IsTraining;
        model.Eval();
        try
        {
            using var _ = GradMode.Disable();
            using var y = model.Forward(input);
            return y.ToDoubleArray();
        }
        finally { model.Train(training); }
    }

    public static double MaxAbsDiff(double[] a, double[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    public static void AssertDiffers(double[] a, double[] b, double atol, string what) =>
        Assert.True(MaxAbsDiff(a, b) > atol, $"{what}: outputs should differ by more than {atol}, max difference {MaxAbsDiff(a, b):E2}");

    /// <summary>Copies of every parameter's values by name.</summary>
    public static Dictionary<string, float[]> Snapshot(Module model) =>
        model.NamedParameters().ToDictionary(np => np.Name, np => np.Parameter.Data.To(DType.F32).ToFloatArray());

    /// <summary>A few SGD steps on loss = Σ y² (so every adapter factor gets a gradient, even when B starts at zero).</summary>
    public static void Train(PeftModel model, Tensor input, int steps = 3, double lr = 0.1)
    {
        model.Train();
        var trainable = model.Parameters().Where(p => p.RequiresGrad).ToList();
        using var opt = new PeftEngine.Nn.Optim.Sgd(trainable, lr);
        for (int i = 0; i < steps; i++)
        {
            opt.ZeroGrad();
            using var y = model.Forward(input);
            using var sq = Ops.Mul(y, y);
            using var loss = Ops.Mean(sq);
            loss.Backward();
            opt.Step();
        }
        model.Eval();
    }

    /// <summary>Language-model steps on ids predicting themselves; returns the first and the last loss.</summary>
    public static (double First, double Last) TrainLanguageModel(PeftModel peft, PeftEngine.Nn.Optim.Optimizer optimizer, Tensor ids, int steps)
    {
        PeftEngine.Models.ICausalLanguageModel lm = peft;
        double first = 0, last = 0;
        peft.Train();
        for (int step = 0; step < steps; step++)
        {
            optimizer.ZeroGrad();
            using var loss = lm.Loss(ids, ids);
            if (step == 0) first = loss.Item();
            last = loss.Item();
            loss.Backward();
            optimizer.Step();
        }
        return (first, last);
    }

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "peft-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
