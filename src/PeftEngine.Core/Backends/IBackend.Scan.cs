namespace PeftEngine;

/// <summary>Running (prefix) combinations along one dimension.</summary>
public enum ScanOp
{
    /// <summary>Running sum: y[k] = x[0] + ... + x[k].</summary>
    Sum,
    /// <summary>Running product: y[k] = x[0] * ... * x[k].</summary>
    Prod,
}

public partial interface IBackend
{
    /// <summary>
    /// Prefix scan of a contiguous x viewed as (outer, n, inner) along the middle axis into y, a contiguous tensor
    /// of the same shape. With <paramref name="reverse"/> the scan runs from the end (y[k] combines x[k..n-1]);
    /// with <paramref name="exclusive"/> y[k] leaves out x[k] itself (the first element of the scan is then 0 for
    /// Sum and 1 for Prod). Each output is accumulated in the compute dtype in scan order, so results do not
    /// depend on the thread count.
    /// </summary>
    void Scan(ScanOp op, Tensor x, int dim, Tensor y, bool reverse = false, bool exclusive = false);
}
