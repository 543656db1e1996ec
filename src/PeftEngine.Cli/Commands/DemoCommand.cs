using System.ComponentModel;
using Spectre.Console.Cli;

namespace PeftEngine.Cli;

/// <summary>
/// `peft demo`: trains a 2-8-1 tanh/sigmoid network on XOR with plain gradient descent and prints the loss,
/// showing the engine's tensors, autograd and memory scopes working together.
/// </summary>
public sealed class DemoCommand : Command<DemoCommand.Settings>
{
    /// <summary>Options of <c>peft demo</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--steps <N>"), Description("Gradient-descent steps (default: 2000)")]
        public int Steps { get; init; } = 2000;

        [CommandOption("--seed <SEED>"), Description("Seed of the initial weights (default: 7)")]
        public int Seed { get; init; } = 7;

        /// <inheritdoc/>
        public override Spectre.Console.ValidationResult Validate() =>
            Steps < 0 || Seed < 0 ? Spectre.Console.ValidationResult.Error("--steps and --seed must not be negative") : base.Validate();
    }

    /// <inheritdoc/>
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        int steps = settings.Steps;
        int seed = settings.Seed;
        const double learningRate = 2.0;

        var gen = new Generator((ulong)seed);
        var w1 = Parameter(Tensor.Randn(new Shape(8, 2), gen));          // (hidden, in)
        var b1 = Parameter(Tensor.Zeros(new Shape(8)));
        var w2 = Parameter(Tensor.Randn(new Shape(1, 8), gen) * 0.5);    // (out, hidden)
        var b2 = Parameter(Tensor.Zeros(new Shape(1)));
        Tensor[] parameters = [w1, b1, w2, b2];
        using var x = Tensor.FromArray(new float[] { 0, 0, 0, 1, 1, 0, 1, 1 }, 4, 2);
        using var y = Tensor.FromArray(new float[] { 0, 1, 1, 0 }, 4, 1);

        Console.WriteLine($"training a 2-8-1 MLP on XOR: {steps} steps of gradient descent, lr {learningRate}, seed {seed}");
        long startBytes = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int step = 1; step <= steps; step++)
        {
            using var scope = TensorScope.Begin();                 // frees this step's activations and temporaries
            var hidden = Ops.Tanh(Ops.Linear(x, w1, b1));          // (4, 2) -> (4, 8)
            var pred = Ops.Sigmoid(Ops.Linear(hidden, w2, b2));    // (4, 8) -> (4, 1)
            var loss = Ops.MseLoss(pred, y);
            loss.Backward();
            using (GradMode.Disable())
                foreach (var p in parameters)
                {
                    using var update = Ops.Mul(p.Grad!, learningRate);
                    Ops.SubInPlace(p, update);
                    p.ZeroGrad();
                }
            if (step == 1) startBytes = HostAllocator.Shared.BytesInUse;
            if (step == 1 || step % Math.Max(1, steps / 10) == 0)
                Console.WriteLine($"step {step,5}  loss {loss.Item():F6}");
        }
        using (GradMode.Disable())
        using (var scope = TensorScope.Begin())
        {
            var pred = Ops.Sigmoid(Ops.Linear(Ops.Tanh(Ops.Linear(x, w1, b1)), w2, b2)).ToArray<float>();
            Console.WriteLine($"predictions for (0,0) (0,1) (1,0) (1,1): {string.Join("  ", pred.Select(p => p.ToString("F3")))}");
        }
        Console.WriteLine($"{steps / clock.Elapsed.TotalSeconds:F0} steps/s; host memory in use {HostAllocator.Shared.BytesInUse} bytes (after step 1: {startBytes})");
        foreach (var p in parameters) p.Dispose();
        return 0;
    }

    private static Tensor Parameter(Tensor t) => TensorScope.Detach(t).RequireGrad();
}
