namespace PeftEngine;

/// <summary>
/// Argument checks and F64 staging shared by the linear algebra ops: every decomposition casts its input to a
/// contiguous F64 copy, runs the backend kernel on (batch, m, n), and casts the results back to the input dtype.
/// </summary>
internal static class LinalgArgs
{
    /// <summary>Throws unless x is an f32/f64 tensor of rank ≥ 2.</summary>
    public static void RequireMatrix(Tensor x, string op)
    {
        x.ThrowIfDisposed();
        DTypes.RequireCompute(x, op);
        if (x.Rank < 2)
            throw new ArgumentException($"{op}: expected a matrix or a batch of matrices (rank ≥ 2), got shape {x.Shape}");
    }

    /// <summary>Throws unless x is a (batch of) square matrices.</summary>
    public static void RequireSquare(Tensor x, string op)
    {
        RequireMatrix(x, op);
        if (x.Shape[-1] != x.Shape[-2])
            throw new ArgumentException($"{op}: expected square matrices (..., n, n), got shape {x.Shape}");
    }

    /// <summary>Throws when the op would be asked for a gradient it does not have.</summary>
    public static void RequireNoGraph(Tensor x, string op)
    {
        if (Graph.IsRecording(x))
            throw new InvalidOperationException(
                $"{op}: not differentiable, but its input {x.Shape} requires grad; call it under GradMode.Disable() (as PEFT initializations do)");
    }

    /// <summary>A contiguous F64 copy (or view) of x, outside the graph.</summary>
    public static Tensor AsF64(Tensor x)
    {
        using (GradMode.Disable())
            return x.DType == DType.F64 ? Ops.ContiguousNoGrad(x) : Ops.Cast(x, DType.F64);
    }

    /// <summary>y64 converted to dtype (disposing y64 when a copy was made), outside the graph.</summary>
    public static Tensor FromF64(Tensor y64, DType dtype)
    {
        if (dtype == DType.F64) return y64;
        using (y64)
        using (GradMode.Disable())
            return Ops.Cast(y64, dtype);
    }

    /// <summary>The leading (batch) dimensions of a (..., m, n) tensor.</summary>
    public static int[] Batch(Tensor x) => x.Shape.ToArray()[..^2];

    /// <summary>The n×n identity in dtype on device.</summary>
    public static Tensor Eye(int n, DType dtype, Device device)
    {
        using (GradMode.Disable())
        {
            using var r = Ops.Arange(0, n, 1, DType.F64, device);
            using var col = Ops.Unsqueeze(r, 1); // (n) -> (n, 1)
            using var row = Ops.Unsqueeze(r, 0); // (n) -> (1, n)
            using var eq = Ops.Eq(col, row);     // (n, n) U8
            return Ops.Cast(eq, dtype);
        }
    }
}
