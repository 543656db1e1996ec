using System.Buffers;
using System.Numerics;

namespace PeftEngine.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Unary(UnaryOp op, Tensor x, Tensor y, double alpha = 0, double beta = 0)
    {
        switch (x.DType)
        {
            case DType.F32: UnaryRows<float>(op, x, y, alpha, beta); break;
            case DType.F64: UnaryRows<double>(op, x, y, alpha, beta); break;
            default: throw Unsupported($"Unary {op}", x.DType);
        }
    }

    public void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx, double alpha = 0, double beta = 0)
    {
        switch (x.DType)
        {
            case DType.F32: UnaryBackwardRows<float>(op, x, dy, dx, alpha, beta); break;
            case DType.F64: UnaryBackwardRows<double>(op, x, dy, dx, alpha, beta); break;
            default: throw Unsupported($"UnaryBackward {op}", x.DType);
        }
    }

    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y)
    {
        switch (a.DType)
        {
            case DType.F32: BinaryRows<float>(op, a, b, y); break;
            case DType.F64: BinaryRows<double>(op, a, b, y); break;
            default: throw Unsupported($"Binary {op}", a.DType);
        }
    }

    public void BinaryBackward(BinaryOp op, Tensor a, Tensor b, Tensor dy, Tensor? da, Tensor? db)
    {
        RequireContiguous($"BinaryBackward {op}", dy, da, db);
        switch (a.DType)
        {
            case DType.F32: BinaryBackwardRows<float>(op, a, b, dy, da, db); break;
            case DType.F64: BinaryBackwardRows<double>(op, a, b, dy, da, db); break;
            default: throw Unsupported($"BinaryBackward {op}", a.DType);
        }
    }

    private static void UnaryRows<T>(UnaryOp op, Tensor x, Tensor y, double alpha, double beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var plan = RowLayout.Of(y, x);
        T* py = y.HostStorage.Ptr<T>(), px = x.HostStorage.Ptr<T>();
        long sy = plan.InnerStrides[0], sx = plan.InnerStrides[1];
        T a = T.CreateTruncating(alpha), b = T.CreateTruncating(beta);
        var segments = new RowSegments(plan);
        CpuParallel.For(segments.Count, segments.MaxLength * UnaryKernels.Cost(op), (s0, s1) =>
        {
            T[]? buffer = sy == 1 && sx == 1 ? null : ArrayPool<T>.Shared.Rent(segments.MaxLength);
            for (long s = s0; s < s1; s++)
            {
                var (row, start, len) = segments[s];
                T* yr = py + plan.Offset(0, row) + start * sy, xr = px + plan.Offset(1, row) + start * sx;
                if (buffer is null)
                {
                    UnaryKernels.Apply(op, new ReadOnlySpan<T>(xr, len), new Span<T>(yr, len), a, b);
                    continue;
                }
                // Strided row: gather, compute, scatter.
                var buf = buffer.AsSpan(0, len);
                for (int i = 0; i < len; i++) buf[i] = xr[i * sx];
                UnaryKernels.Apply(op, buf, buf, a, b);
                for (int i = 0; i < len; i++) yr[i * sy] = buf[i];
            }
            if (buffer is not null) ArrayPool<T>.Shared.Return(buffer);
        });
    }

    private static void UnaryBackwardRows<T>(UnaryOp op, Tensor x, Tensor dy, Tensor dx, double alpha, double beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var xc = Ops.ContiguousNoGrad(x);
        T* px = Ptr<T>(xc), pg = Ptr<T>(dy), pd = Ptr<T>(dx);
        long n = xc.Numel;
        const int chunk = RowSegments.Length;
        T a = T.CreateTruncating(alpha), b = T.CreateTruncating(beta);
        CpuParallel.For((n + chunk - 1) / chunk, chunk * UnaryKernels.Cost(op), (c0, c1) =>
        {
            for (long c = c0; c < c1; c++)
            {
                long s = c * chunk;
                int len = (int)Math.Min(chunk, n - s);
                UnaryKernels.Backward(op, new ReadOnlySpan<T>(px + s, len), new ReadOnlySpan<T>(pg + s, len), new Span<T>(pd + s, len), a, b);
            }
        });
    }

    private static void BinaryRows<T>(BinaryOp op, Tensor a, Tensor b, Tensor y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var plan = RowLayout.Of(y, a, b);
        T* py = y.HostStorage.Ptr<T>(), pa = a.HostStorage.Ptr<T>(), pb = b.HostStorage.Ptr<T>();
        long sy = plan.InnerStrides[0], sa = plan.InnerStrides[1], sb = plan.InnerStrides[2];
        bool direct = sy == 1 && sa is 0 or 1 && sb is 0 or 1;
        var segments = new RowSegments(plan);
        CpuParallel.For(segments.Count, segments.MaxLength * BinaryKernels.Cost(op), (s0, s1) =>
        {
            T[]? bufA = null, bufB = null, bufY = null;
            for (long s = s0; s < s1; s++)
            {
                var (row, start, len) = segments[s];
                T* yr = py + plan.Offset(0, row) + start * sy, ar = pa + plan.Offset(1, row) + start * sa, br = pb + plan.Offset(2, row) + start * sb;
                if (direct)
                {
                    BinaryKernels.Apply(op, ar, sa == 0, br, sb == 0, new Span<T>(yr, len));
                    continue;
                }
                // Strided row: gather, compute, scatter.
                bufA ??= ArrayPool<T>.Shared.Rent(segments.MaxLength);
                bufB ??= ArrayPool<T>.Shared.Rent(segments.MaxLength);
                bufY ??= ArrayPool<T>.Shared.Rent(segments.MaxLength);
                for (int i = 0; i < len; i++) { bufA[i] = ar[i * sa]; bufB[i] = br[i * sb]; }
                fixed (T* fa = bufA, fb = bufB) BinaryKernels.Apply(op, fa, false, fb, false, bufY.AsSpan(0, len));
                for (int i = 0; i < len; i++) yr[i * sy] = bufY[i];
            }
            foreach (var buf in (T[]?[])[bufA, bufB, bufY])
                if (buf is not null) ArrayPool<T>.Shared.Return(buf);
        });
    }

    private static void BinaryBackwardRows<T>(BinaryOp op, Tensor a, Tensor b, Tensor dy, Tensor? da, Tensor? db)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (da is null && db is null) return;
        // dy, da and db are contiguous with one shape, so they share the row walk of operand 0.
        var plan = RowLayout.Of(dy, a, b);
        T* pg = dy.HostStorage.Ptr<T>(), pa = a.HostStorage.Ptr<T>(), pb = b.HostStorage.Ptr<T>();
        T* pda = da is null ? null : Ptr<T>(da), pdb = db is null ? null : Ptr<T>(db);
        long sa = plan.InnerStrides[1], sb = plan.InnerStrides[2];
        var segments = new RowSegments(plan);
        CpuParallel.For(segments.Count, segments.MaxLength * BinaryKernels.Cost(op) * 2, (s0, s1) =>
        {
            var pool = ArrayPool<T>.Shared;
            T[] bufA = pool.Rent(segments.MaxLength), bufB = pool.Rent(segments.MaxLength), tmp = pool.Rent(segments.MaxLength);
            for (long s = s0; s < s1; s++)
            {
                var (row, start, len) = segments[s];
                long g = plan.Offset(0, row) + start;             // element index in dy's storage
                long o = g - dy.Offset;                            // ... and in da's and db's
                var ra = RowSpan(pa + plan.Offset(1, row) + start * sa, sa, len, bufA);
                var rb = RowSpan(pb + plan.Offset(2, row) + start * sb, sb, len, bufB);
                BinaryKernels.Backward(op, ra, rb, new ReadOnlySpan<T>(pg + g, len),
                    pda == null ? default : new Span<T>(pda + o, len),
                    pdb == null ? default : new Span<T>(pdb + o, len),
                    tmp.AsSpan(0, len));
            }
            pool.Return(bufA);
            pool.Return(bufB);
            pool.Return(tmp);
        });
    }

    /// <summary>Throws unless every given tensor is contiguous, as the kernel's contract requires.</summary>
    private static void RequireContiguous(string kernel, params Tensor?[] tensors)
    {
        foreach (var t in tensors)
            if (t is not null && !t.IsContiguous)
                throw new ArgumentException($"{kernel}: expected a contiguous tensor, got {t.Shape} with strides ({string.Join(", ", t.StridesArray())})");
    }

    /// <summary>The len elements at p with the given stride as a contiguous span: p itself when the stride is 1,
    /// else a copy in <paramref name="buffer"/> (stride 0 repeats one value).</summary>
    private static ReadOnlySpan<T> RowSpan<T>(T* p, long stride, int len, T[] buffer) where T : unmanaged
    {
        if (stride == 1 || len == 1) return new ReadOnlySpan<T>(p, len);
        var span = buffer.AsSpan(0, len);
        if (stride == 0) span.Fill(*p);
        else for (int i = 0; i < len; i++) span[i] = p[i * stride];
        return span;
    }

    /// <summary>
    /// The rows of a <see cref="RowLayout"/> cut into segments of at most <see cref="Length"/> elements, so that
    /// one long row (a contiguous tensor) still spreads over threads. Segment boundaries depend only on the
    /// shape, never on the thread count.
    /// </summary>
    private readonly struct RowSegments
    {
        /// <summary>The longest segment.</summary>
        public const int Length = 8192;

        private readonly int _rowLength, _perRow;

        public RowSegments(RowLayout plan)
        {
            _rowLength = plan.RowLength;
            _perRow = Math.Max(1, (plan.RowLength + Length - 1) / Length);
            Count = plan.RowCount * _perRow;
            MaxLength = Math.Min(plan.RowLength, Length);
        }

        /// <summary>How many segments there are.</summary>
        public long Count { get; }

        /// <summary>The length of the longest segment (the size scratch buffers need).</summary>
        public int MaxLength { get; }

        /// <summary>Segment s: its row, where it starts in the row, and its length.</summary>
        public (long Row, int Start, int Length) this[long s]
        {
            get
            {
                long row = s / _perRow;
                int start = (int)(s % _perRow) * Length;
                return (row, start, Math.Min(Length, _rowLength - start));
            }
        }
    }
}
