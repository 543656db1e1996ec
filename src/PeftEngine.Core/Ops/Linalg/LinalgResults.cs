namespace PeftEngine;

/// <summary>A singular value decomposition a = U · diag(S) · Vh. The caller owns the tensors; disposing this disposes them.</summary>
/// <remarks>PyTorch: the (U, S, Vh) named tuple of torch.linalg.svd.</remarks>
public sealed record SvdResult(Tensor U, Tensor S, Tensor Vh) : IDisposable
{
    public void Dispose()
    {
        U.Dispose();
        S.Dispose();
        Vh.Dispose();
    }
}

/// <summary>A QR decomposition a = Q · R.</summary>
/// <remarks>PyTorch: the (Q, R) named tuple of torch.linalg.qr.</remarks>
public sealed record QrResult(Tensor Q, Tensor R) : IDisposable
{
    public void Dispose()
    {
        Q.Dispose();
        R.Dispose();
    }
}

/// <summary>A symmetric eigendecomposition a = V · diag(W) · Vᵀ, eigenvalues ascending.</summary>
/// <remarks>PyTorch: the (eigenvalues, eigenvectors) named tuple of torch.linalg.eigh.</remarks>
public sealed record EighResult(Tensor Eigenvalues, Tensor Eigenvectors) : IDisposable
{
    public void Dispose()
    {
        Eigenvalues.Dispose();
        Eigenvectors.Dispose();
    }
}

/// <summary>An LU decomposition with partial pivoting a = P · L · U.</summary>
/// <remarks>PyTorch: the (P, L, U) named tuple of torch.linalg.lu.</remarks>
public sealed record LuResult(Tensor P, Tensor L, Tensor U) : IDisposable
{
    public void Dispose()
    {
        P.Dispose();
        L.Dispose();
        U.Dispose();
    }
}

/// <summary>The packed LU factors (U on and above the diagonal, L's multipliers below) and the I64 pivots.</summary>
/// <remarks>PyTorch: the (LU, pivots) named tuple of torch.linalg.lu_factor (pivots 0-based here).</remarks>
public sealed record LuFactors(Tensor LU, Tensor Pivots) : IDisposable
{
    public void Dispose()
    {
        LU.Dispose();
        Pivots.Dispose();
    }
}

/// <summary>det(a) = Sign · exp(LogAbsDet); a singular matrix has Sign 0 and LogAbsDet -∞.</summary>
/// <remarks>PyTorch: the (sign, logabsdet) named tuple of torch.linalg.slogdet.</remarks>
public sealed record SlogDetResult(Tensor Sign, Tensor LogAbsDet) : IDisposable
{
    public void Dispose()
    {
        Sign.Dispose();
        LogAbsDet.Dispose();
    }
}
