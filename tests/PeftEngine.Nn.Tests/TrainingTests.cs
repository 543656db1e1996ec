using PeftEngine.Nn;
using PeftEngine.Nn.Optim;

namespace PeftEngine.Tests;

public class TrainingTests
{
    [Fact]
    public void MlpWithAdamWLearnsTwoSpirals()
    {
        // 64 points of two interleaved spirals, classified by a 2-32-32-2 MLP with AdamW, clipping and a schedule.
        var gen = new Generator(21);
        const int n = 64;
        var xs = new float[n * 2];
        var ys = new long[n];
        for (int i = 0; i < n; i++)
        {
            int label = i % 2;
            double r = 0.2 + 0.8 * (i / 2) / (n / 2.0);
            double angle = 3 * r + label * Math.PI;
            xs[2 * i] = (float)(r * Math.Cos(angle));
            xs[2 * i + 1] = (float)(r * Math.Sin(angle));
            ys[i] = label;
        }
        using var x = Tensor.FromArray(xs, n, 2);
        using var y = Tensor.FromArray(ys, n);
        using var model = new Sequential(new Linear(2, 32, generator: gen), new Activation(ActivationKind.Tanh),
            new Linear(32, 32, generator: gen), new Activation(ActivationKind.Tanh), new Linear(32, 2, generator: gen));
        using var opt = new AdamW(model.Parameters(), lr: 0.03, weightDecay: 0.0);
        var sched = new LrScheduler(opt, LrSchedule.CosineWithWarmup(10, 400));
        double first = double.NaN, last = double.NaN;
        for (int step = 0; step < 400; step++)
        {
            using var scope = TensorScope.Begin();
            opt.ZeroGrad();
            var loss = Losses.CrossEntropy(model.Forward(x), y);
            loss.Backward();
            GradClip.ClipGradNorm(model.Parameters(), 1.0);
            opt.Step();
            sched.Step();
            last = loss.Item();
            if (step == 0) first = last;
        }
        Assert.True(last < 0.1, $"loss went from {first} to {last}");
        Assert.True(first > 0.5);
    }
}
