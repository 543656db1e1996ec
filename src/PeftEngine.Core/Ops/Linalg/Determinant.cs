namespace PeftEngine;

/// <summary>
/// Determinants from the LU factors: det(A) = (-1)^(row swaps) · Π U_ii, returned as sign and log|det| so
/// large matrices neither overflow nor underflow.
/// </summary>
/// <remarks>Backward: d log|det A| / dA = A⁻ᵀ; Det = Sign · exp(LogAbsDet) gets d det / dA = det · A⁻ᵀ.</remarks>
public static partial class Linalg
{
    /// <summary>Sign (…) and natural log of |det| (…) of square matrices (..., n, n); a singular matrix gives
    /// sign 0 and -∞. LogAbsDet is differentiable (for non-singular A); Sign is not.</summary>
    /// <remarks>PyTorch: torch.linalg.slogdet.</remarks>
    public static SlogDetResult SlogDet(Tensor a)
    {
        const string op = "SlogDet";
        LinalgArgs.RequireSquare(a, op);
        int n = a.Shape[-1];
        var (lu, piv, _) = Factor(a, op);
        double[] factors, signs, logs;
        using (lu)
        using (piv)
        {
            factors = lu.ToArray<double>();
            var pivots = piv.ToArray<long>();
            long count = LinalgArgs.Batch(a).Aggregate(1L, (x, d) => x * d);
            signs = new double[count];
            logs = new double[count];
            for (long b = 0; b < count; b++)
            {
                double sign = 1, log = 0;
                for (int i = 0; i < n; i++)
                {
                    double d = factors[b * n * n + (long)i * n + i];
                    if (pivots[b * n + i] != i) sign = -sign;
                    if (d < 0) sign = -sign;
                    if (d == 0) { sign = 0; log = double.NegativeInfinity; break; }
                    log += Math.Log(Math.Abs(d));
                }
                signs[b] = sign;
                logs[b] = log;
            }
        }
        var batch = LinalgArgs.Batch(a);
        Tensor sTensor, lTensor;
        using (GradMode.Disable())
        {
            using var sh = Tensor.FromArray(signs, batch);
            using var lh = Tensor.FromArray(logs, batch);
            using var sd = sh.To(a.Device);
            using var ld = lh.To(a.Device);
            sTensor = sd.To(a.DType);
            lTensor = ld.To(a.DType);
        }
        if (Graph.IsRecording(a)) Graph.Attach(lTensor, new LogAbsDetNode(a), a);
        return new SlogDetResult(sTensor, lTensor);
    }

    /// <summary>The determinant of square matrices (..., n, n); differentiable for non-singular A.</summary>
    /// <remarks>PyTorch: torch.linalg.det. Computed as sign · exp(log|det|).</remarks>
    public static Tensor Det(Tensor a)
    {
        using var r = SlogDet(a);
        using var magnitude = Ops.Exp(r.LogAbsDet);
        return Ops.Mul(r.Sign, magnitude);
    }

    private sealed class LogAbsDetNode : GradNode
    {
        private readonly SavedTensor _a;
        public LogAbsDetNode(Tensor a) => _a = Save(a);
        public override string Name => "LogAbsDet";

        public override Tensor?[] Backward(Tensor g)
        {
            // dA = g · A⁻ᵀ, g broadcast over the matrix dimensions
            using var inv = Inverse(_a.Value);
            using var invT = Ops.Transpose(inv, -1, -2);
            using var g1 = Ops.Unsqueeze(g, -1);
            using var g2 = Ops.Unsqueeze(g1, -1); // (...) -> (..., 1, 1)
            return [Ops.Mul(invT, g2)];
        }
    }
}
