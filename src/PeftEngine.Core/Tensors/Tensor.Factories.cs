using System.Runtime.InteropServices;

namespace PeftEngine;

public sealed partial class Tensor
{
    /// <summary>An uninitialised contiguous tensor.</summary>
    public static Tensor Empty(Shape shape, DType dtype = DType.F32, Device? device = null)
    {
        var dev = device ?? Device.Cpu;
        var storage = BackendRegistry.Get(dev).Allocate(Math.Max(1, shape.Numel) * dtype.SizeOf());
        return new Tensor(storage, shape, shape.ContiguousStrides(), 0, dtype);
    }

    /// <summary>An uninitialised contiguous tensor with the dtype and device of <paramref name="like"/>.</summary>
    public static Tensor EmptyLike(Tensor like, Shape? shape = null) => Empty(shape ?? like.Shape, like.DType, like.Device);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(Shape shape, double value, DType dtype = DType.F32, Device? device = null)
    {
        var t = Empty(shape, dtype, device);
        t.Backend.Fill(t, value);
        return t;
    }

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(Shape shape, DType dtype = DType.F32, Device? device = null) => Full(shape, 0, dtype, device);

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(Shape shape, DType dtype = DType.F32, Device? device = null) => Full(shape, 1, dtype, device);

    /// <summary>Zeros shaped, typed and placed like <paramref name="like"/>.</summary>
    public static Tensor ZerosLike(Tensor like) => Zeros(like.Shape, like.DType, like.Device);

    /// <summary>Ones shaped, typed and placed like <paramref name="like"/>.</summary>
    public static Tensor OnesLike(Tensor like) => Ones(like.Shape, like.DType, like.Device);

    /// <summary>A 0-dimensional tensor holding one value.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.F32, Device? device = null) => Full(new Shape(), value, dtype, device);

    /// <summary>Copies <paramref name="data"/> into a new tensor of the given shape (the dtype follows T).</summary>
    public static Tensor FromSpan<T>(ReadOnlySpan<T> data, Shape shape, Device? device = null) where T : unmanaged
    {
        if (data.Length != shape.Numel)
            throw new ArgumentException($"FromSpan: {data.Length} values cannot fill shape {shape} ({shape.Numel} elements)");
        var t = Empty(shape, DTypes.Of<T>(), device);
        t.Backend.CopyFromHost(MemoryMarshal.AsBytes(data), t.Storage, 0);
        return t;
    }

    /// <summary>Copies <paramref name="data"/> into a new tensor; a 1-D tensor when no shape is given.</summary>
    public static Tensor FromArray<T>(T[] data, params int[] shape) where T : unmanaged =>
        FromSpan<T>(data, shape.Length == 0 ? new Shape(data.Length) : new Shape(shape));

    /// <summary>Copies a rectangular 2-D array into a (rows, cols) tensor.</summary>
    public static Tensor FromArray<T>(T[,] data) where T : unmanaged
    {
        var flat = new T[data.Length];
        Buffer.BlockCopy(data, 0, flat, 0, data.Length * Marshal.SizeOf<T>());
        return FromSpan<T>(flat, new Shape(data.GetLength(0), data.GetLength(1)));
    }

    /// <summary>The elements in row-major order, copied to a new array. T must match the dtype.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        ThrowIfDisposed();
        if (DTypes.Of<T>() != DType)
            throw new InvalidOperationException($"ToArray<{typeof(T).Name}> on a {DType.Name()} tensor; use ToArray<{ClrName(DType)}>() or cast with .To()");
        using var c = Ops.Contiguous(this);
        var result = new T[Numel];
        c.Backend.CopyToHost(c.Storage, c.Offset * DType.SizeOf(), MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }

    /// <summary>The elements converted to double (any dtype), in row-major order.</summary>
    public double[] ToDoubleArray()
    {
        if (DType == DType.F64) return ToArray<double>();
        using var d = Ops.Cast(this, DType.F64);
        return d.ToArray<double>();
    }

    /// <summary>The elements converted to float (any dtype), in row-major order.</summary>
    public float[] ToFloatArray()
    {
        if (DType == DType.F32) return ToArray<float>();
        using var d = Ops.Cast(this, DType.F32);
        return d.ToArray<float>();
    }

    /// <summary>The value of a one-element tensor.</summary>
    public double Item()
    {
        if (Numel != 1) throw new InvalidOperationException($"Item() needs a one-element tensor, got {Shape}");
        return ToDoubleArray()[0];
    }

    private static string ClrName(DType d) => d switch
    {
        DType.F32 => "float", DType.F64 => "double", DType.F16 => "Half", DType.BF16 => "BFloat16",
        DType.I32 => "int", DType.I64 => "long", _ => "byte",
    };
}
