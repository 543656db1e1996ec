namespace PeftEngine;

/// <summary>
/// Checks an op's backward against central finite differences in float64: for each input element x_i,
/// (f(x + h e_i) - f(x - h e_i)) / 2h, where f is the sum of the output weighted by a fixed random tensor
/// (so every output element contributes).
/// </summary>
/// <remarks>PyTorch: torch.autograd.gradcheck. Inputs must be F64 leaves; each is perturbed in place under
/// GradMode.Disable, one element at a time, and restored.</remarks>
public static class GradCheck
{
    /// <summary>The largest absolute difference found, with where it was.</summary>
    public sealed record Result(double MaxAbsError, double MaxRelError, int Input, long Element, double Analytic, double Numeric)
    {
        public override string ToString() =>
            $"max |analytic - numeric| = {MaxAbsError:E3} (relative {MaxRelError:E3}) at input {Input}, element {Element}: analytic {Analytic:G10}, numeric {Numeric:G10}";
    }

    /// <summary>Compares analytic and numeric gradients of <paramref name="f"/> at <paramref name="inputs"/>.</summary>
    public static Result Run(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, int seed = 1234)
    {
        foreach (var x in inputs)
            if (x.DType != DType.F64) throw new ArgumentException($"GradCheck needs f64 inputs, got {x.DType.Name()} {x.Shape}");

        // A fixed random weighting of the output turns it into a scalar that depends on every element.
        Tensor probe;
        using (GradMode.Disable())
        {
            using var y0 = f(inputs);
            var rng = new System.Random(seed);
            var w = new double[y0.Numel];
            for (int i = 0; i < w.Length; i++) w[i] = rng.NextDouble() * 2 - 1;
            probe = TensorScope.Detach(Tensor.FromArray(w, y0.Shape.ToArray()).To(y0.Device));
        }

        double Scalar()
        {
            using (GradMode.Disable())
            {
                using var y = f(inputs);
                using var weighted = Ops.Mul(y, probe);
                using var s = Ops.Sum(weighted);
                return s.Item();
            }
        }

        foreach (var x in inputs) x.ZeroGrad();
        using (var y = f(inputs))
        using (var weighted = Ops.Mul(y, probe))
        using (var s = Ops.Sum(weighted))
            s.Backward();

        var worst = new Result(0, 0, -1, -1, 0, 0);
        for (int k = 0; k < inputs.Length; k++)
        {
            var x = inputs[k];
            if (!x.RequiresGrad) continue;
            double[] analytic = x.Grad is null ? new double[x.Numel] : x.Grad.ToArray<double>();
            var values = x.ToArray<double>();
            for (long i = 0; i < x.Numel; i++)
            {
                double orig = values[i];
                SetElement(x, i, orig + eps);
                double plus = Scalar();
                SetElement(x, i, orig - eps);
                double minus = Scalar();
                SetElement(x, i, orig);
                double numeric = (plus - minus) / (2 * eps);
                double abs = Math.Abs(analytic[i] - numeric);
                double rel = abs / Math.Max(1e-3, Math.Max(Math.Abs(numeric), Math.Abs(analytic[i])));
                if (rel > worst.MaxRelError || worst.Input < 0)
                    worst = new Result(Math.Max(abs, worst.MaxAbsError), rel, k, i, analytic[i], numeric);
            }
        }
        probe.Dispose();
        return worst;
    }

    /// <summary>Writes one element of a contiguous f64 tensor (in row-major order) without bumping its version.</summary>
    private static unsafe void SetElement(Tensor x, long index, double value)
    {
        if (!x.IsContiguous) throw new ArgumentException("GradCheck inputs must be contiguous");
        var bytes = BitConverter.GetBytes(value);
        x.Backend.CopyFromHost(bytes, x.Storage, (x.Offset + index) * sizeof(double));
    }
}
