namespace PeftEngine;

/// <summary>
/// An n-dimensional array: a view (shape, strides, offset) into a shared <see cref="PeftEngine.Storage"/>,
/// plus what autograd needs (<see cref="RequiresGrad"/>, <see cref="Grad"/>, <see cref="GradFn"/>).
/// </summary>
/// <remarks>
/// PyTorch: torch.Tensor. Strides and offset count elements, not bytes. Views share storage and bump its
/// reference count; <see cref="Dispose"/> drops this view's reference. Tensors made inside a
/// <see cref="TensorScope"/> are disposed with it.
/// </remarks>
public sealed partial class Tensor : IDisposable
{
    private static long _liveCount;
    private readonly long[] _strides;
    private int _disposed;

    /// <summary>Tensors created and not yet disposed, on all threads: a leak check for tests and diagnostics.</summary>
    public static long LiveCount => Interlocked.Read(ref _liveCount);

    /// <summary>Wraps a view over <paramref name="storage"/>. Takes a new reference to the storage.</summary>
    public Tensor(Storage storage, Shape shape, long[] strides, long offset, DType dtype)
    {
        if (strides.Length != shape.Rank)
            throw new ArgumentException($"strides of rank {strides.Length} do not match shape {shape}");
        storage.AddRef();
        Storage = storage;
        Shape = shape;
        _strides = strides;
        Offset = offset;
        DType = dtype;
        Interlocked.Increment(ref _liveCount);
        TensorScope.Register(this);
    }

    /// <summary>The memory this tensor views.</summary>
    public Storage Storage { get; }

    /// <summary>The sizes of the dimensions.</summary>
    public Shape Shape { get; }

    /// <summary>Element steps between neighbours along each dimension (0 for a broadcast dimension).</summary>
    public ReadOnlySpan<long> Strides => _strides;

    /// <summary>The element index of this view's first element in the storage.</summary>
    public long Offset { get; }

    /// <summary>The element type.</summary>
    public DType DType { get; }

    /// <summary>Where the memory lives.</summary>
    public Device Device => Storage.Device;

    /// <summary>The number of dimensions.</summary>
    public int Rank => Shape.Rank;

    /// <summary>The number of elements.</summary>
    public long Numel => Shape.Numel;

    /// <summary>The backend that computes on this tensor's device.</summary>
    public IBackend Backend => BackendRegistry.Get(Device);

    /// <summary>The scope that will dispose this tensor, if any.</summary>
    public TensorScope? Scope { get; internal set; }

    /// <summary>True after <see cref="Dispose"/>.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>A copy of the strides.</summary>
    public long[] StridesArray() => (long[])_strides.Clone();

    /// <summary>True when the elements lie in row-major order with no gaps (size-1 dimensions ignored).</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int i = Rank - 1; i >= 0; i--)
            {
                int d = Shape.Dims[i];
                if (d == 1) continue;
                if (_strides[i] != expected) return false;
                expected *= d;
            }
            return true;
        }
    }

    /// <summary>Throws if this tensor was disposed.</summary>
    public void ThrowIfDisposed(string? what = null)
    {
        if (IsDisposed || Storage.IsFreed)
            throw new ObjectDisposedException(nameof(Tensor), $"{what ?? "tensor"} {Shape} {DType.Name()} was disposed and can no longer be used");
    }

    /// <summary>Drops this view's reference to its storage. Safe to call twice.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Interlocked.Decrement(ref _liveCount);
        Storage.Release();
    }

    /// <summary>A new view of the same elements with its own reference to the storage (and no graph).</summary>
    public Tensor Alias() => new(Storage, Shape, StridesArray(), Offset, DType);

    /// <summary>A new view with another layout over the same storage (no autograd; see Ops for tracked views).</summary>
    internal Tensor ViewAs(Shape shape, long[] strides, long offset) => new(Storage, shape, strides, offset, DType);

    /// <summary>Host storage of this tensor, or an error naming the device.</summary>
    public HostStorage HostStorage =>
        Storage as HostStorage ?? throw new InvalidOperationException($"tensor {Shape} is on {Device}; copy it to the CPU first with .To(Device.Cpu)");
}
