namespace PeftEngine;

/// <summary>
/// Streaming PCA / incremental truncated SVD of activations, fed one batch at a time (EVA and CorDA initialize
/// adapters from the top singular directions of layer inputs, which are too many to hold at once).
/// </summary>
/// <remarks>
/// The update of Ross et al. (2008), as in scikit-learn's IncrementalPCA: with the current components V (r, d),
/// singular values S, mean μ over n samples and a new batch X (m, d) with mean μ_b, the thin SVD of the stacked
/// (r + m + 1, d) matrix [diag(S)·V; X - μ_b; sqrt(n·m/(n+m))·(μ - μ_b)] gives the components of all n + m
/// samples, truncated to the top r. Without centering the stack is [diag(S)·V; X] (an uncentered SVD). Exact when
/// the data have rank at most r; otherwise each truncation drops the smallest directions seen so far. State and
/// arithmetic are f64. PyTorch has no streaming PCA; sklearn.decomposition.IncrementalPCA is the model.
/// </remarks>
public sealed class IncrementalPca : IDisposable
{
    private Tensor? _scaledComponents; // diag(S)·V, (k, d)
    private Tensor? _mean;             // (d)
    private Tensor? _components, _singularValues;

    /// <summary>Keeps the top <paramref name="components"/> directions; <paramref name="center"/> subtracts the
    /// running mean (PCA) or not (SVD of the raw activations).</summary>
    public IncrementalPca(int components, bool center = true)
    {
        if (components < 1) throw new ArgumentOutOfRangeException(nameof(components), $"IncrementalPca: components must be at least 1, got {components}");
        Rank = components;
        Center = center;
    }

    /// <summary>The number of directions kept.</summary>
    public int Rank { get; }

    /// <summary>Whether the running mean is subtracted.</summary>
    public bool Center { get; }

    /// <summary>Samples seen so far.</summary>
    public long SamplesSeen { get; private set; }

    /// <summary>The top directions as rows (k, d), k = min(Rank, samples so far), by descending singular value (f64).</summary>
    public Tensor Components => _components ?? throw NotFitted();

    /// <summary>The singular values (k) of the (centered) data seen so far (f64).</summary>
    public Tensor SingularValues => _singularValues ?? throw NotFitted();

    /// <summary>The running mean (d) (zeros when not centering) (f64).</summary>
    public Tensor Mean => _mean ?? throw NotFitted();

    /// <summary>The variance along each component, S² / (n - 1).</summary>
    public Tensor ExplainedVariance()
    {
        using var sq = Ops.Square(SingularValues);
        return Ops.Mul(sq, 1.0 / Math.Max(1, SamplesSeen - 1));
    }

    /// <summary>Adds a batch of samples (m, d), f32 or f64 (leading dimensions are flattened into samples).</summary>
    public void Update(Tensor batch)
    {
        batch.ThrowIfDisposed();
        DTypes.RequireCompute(batch, "IncrementalPca.Update");
        if (batch.Rank < 2)
            throw new ArgumentException($"IncrementalPca.Update: expected samples (..., d), got shape {batch.Shape}");
        int d = batch.Shape[-1];
        if (_mean is not null && _mean.Shape[0] != d)
            throw new ArgumentException($"IncrementalPca.Update: batch {batch.Shape} has {d} features, earlier batches had {_mean.Shape[0]}");
        using (GradMode.Disable())
        {
            using var x64 = LinalgArgs.AsF64(batch);
            using var x = Ops.Reshape(x64, -1, d);                // (..., d) -> (m, d)
            int m = x.Shape[0];
            if (m == 0) return;
            long n = SamplesSeen;
            var parts = new List<Tensor>();
            try
            {
                Tensor newMean;
                if (_scaledComponents is not null) parts.Add(_scaledComponents.Alias());
                if (Center)
                {
                    using var batchMean = Ops.Mean(x, 0);         // (d)
                    parts.Add(Ops.Sub(x, batchMean));
                    if (_mean is not null)
                    {
                        // the shift between the old and the batch mean, weighted so the stack's Gram matrix is the scatter of all samples
                        using var shift = Ops.Sub(_mean, batchMean);
                        using var w = Ops.Mul(shift, Math.Sqrt((double)n * m / (n + m)));
                        parts.Add(Ops.Unsqueeze(w, 0));           // (d) -> (1, d)
                        using var a = Ops.Mul(_mean, (double)n / (n + m));
                        using var b = Ops.Mul(batchMean, (double)m / (n + m));
                        newMean = Ops.Add(a, b);
                    }
                    else newMean = batchMean.Alias();
                }
                else
                {
                    parts.Add(x.Alias());
                    newMean = Tensor.Zeros(new Shape(d), DType.F64, batch.Device);
                }
                using var stack = Ops.Cat(parts, 0);
                using var svd = Linalg.Svd(stack);
                int k = Math.Min(Rank, svd.S.Shape[0]);
                var s = Ops.Slice(svd.S, 0, 0, k);
                var v = Ops.Slice(svd.Vh, 0, 0, k);
                using var s1 = Ops.Unsqueeze(s, 1);
                var scaled = Ops.Mul(v, s1);
                _scaledComponents?.Dispose();
                _components?.Dispose();
                _singularValues?.Dispose();
                _mean?.Dispose();
                _scaledComponents = scaled;
                _components = v;
                _singularValues = s;
                _mean = newMean;
                SamplesSeen = n + m;
            }
            finally
            {
                foreach (var p in parts) p.Dispose();
            }
        }
    }

    /// <summary>The samples (..., d) projected onto the components: (x - μ)·Vᵀ, (..., k).</summary>
    public Tensor Transform(Tensor x)
    {
        using var x64 = LinalgArgs.AsF64(x);
        using var centered = Ops.Sub(x64, Mean);
        using var vt = Ops.Transpose(Components, 0, 1);
        return Ops.MatMul(centered, vt);
    }

    public void Dispose()
    {
        _scaledComponents?.Dispose();
        _components?.Dispose();
        _singularValues?.Dispose();
        _mean?.Dispose();
        _scaledComponents = _components = _singularValues = _mean = null;
    }

    private static InvalidOperationException NotFitted() =>
        new("IncrementalPca: no samples yet; call Update with a batch first");
}
