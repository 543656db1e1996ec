using System.Runtime.InteropServices;

namespace PeftEngine.IO.Onnx;

/// <summary>The element types of ONNX's TensorProto.DataType that matter for weights.</summary>
public enum OnnxDataType
{
    /// <summary>Not set.</summary>
    Undefined = 0,
    /// <summary>float32.</summary>
    Float = 1,
    /// <summary>uint8.</summary>
    UInt8 = 2,
    /// <summary>int8.</summary>
    Int8 = 3,
    /// <summary>int32.</summary>
    Int32 = 6,
    /// <summary>int64.</summary>
    Int64 = 7,
    /// <summary>bool (one byte).</summary>
    Bool = 9,
    /// <summary>float16.</summary>
    Float16 = 10,
    /// <summary>float64.</summary>
    Double = 11,
    /// <summary>bfloat16.</summary>
    BFloat16 = 16,
}

/// <summary>
/// A tensor stored in an ONNX file (an initializer): its name, element type, dimensions, and its values either as
/// little-endian <see cref="RawData"/> or in one of the typed repeated fields (float_data, int32_data, int64_data,
/// double_data).
/// </summary>
/// <remarks>ONNX: onnx.TensorProto; Python: onnx.numpy_helper.to_array(tensor). Tensors with external data
/// (data_location = EXTERNAL) are rejected with an error naming them.</remarks>
public sealed record OnnxTensor
{
    /// <summary>The initializer's name (may be an anonymous one such as "onnx::MatMul_1234").</summary>
    public string Name { get; init; } = "";

    /// <summary>Element type as stored (the numeric code of TensorProto.DataType).</summary>
    public int DataType { get; init; }

    /// <summary>The dimensions (empty for a scalar).</summary>
    public long[] Dims { get; init; } = [];

    /// <summary>raw_data: the values as little-endian bytes, when the file stores them that way.</summary>
    public ReadOnlyMemory<byte> RawData { get; init; }

    /// <summary>float_data (also holds float16/bfloat16 bit patterns in the low 16 bits for those types).</summary>
    public float[] FloatData { get; init; } = [];

    /// <summary>int32_data (int32, int8, uint8, bool, and float16/bfloat16 bit patterns).</summary>
    public long[] Int32Data { get; init; } = [];

    /// <summary>int64_data.</summary>
    public long[] Int64Data { get; init; } = [];

    /// <summary>double_data.</summary>
    public double[] DoubleData { get; init; } = [];

    /// <summary>Number of elements (product of the dimensions).</summary>
    public long Numel => Dims.Aggregate(1L, (a, d) => a * d);

    /// <summary>The dimensions as an engine shape.</summary>
    public Shape Shape => new(Dims.Select(d => checked((int)d)).ToArray());

    /// <summary>
    /// The values as an engine tensor: float32 and float64 keep their type, integer types become I64, others are an
    /// error naming the tensor. The element count must equal the product of the dimensions.
    /// </summary>
    /// <remarks>Python: torch.from_numpy(onnx.numpy_helper.to_array(tensor)).</remarks>
    public Tensor ToTensor()
    {
        long n = Numel;
        var type = (OnnxDataType)DataType;
        switch (type)
        {
            case OnnxDataType.Float:
                return FromRawOrTyped(n, 4, () => FloatData, Tensor.FromSpan<float>);
            case OnnxDataType.Double:
                return FromRawOrTyped(n, 8, () => DoubleData, Tensor.FromSpan<double>);
            case OnnxDataType.Int64:
                return FromRawOrTyped(n, 8, () => Int64Data, Tensor.FromSpan<long>);
            case OnnxDataType.Int32:
                if (!RawData.IsEmpty)
                {
                    CheckRawLength(n, 4);
                    var ints = MemoryMarshal.Cast<byte, int>(RawData.Span);
                    return Tensor.FromSpan<long>(ints.ToArray().Select(v => (long)v).ToArray(), Shape);
                }
                return FromRawOrTyped(n, 4, () => Int32Data, Tensor.FromSpan<long>);
            default:
                throw new NotSupportedException($"ONNX tensor '{Name}': data type {DataType} ({type}) is not supported; expected float, double, int32 or int64");
        }
    }

    private delegate Tensor FromSpanFn<T>(ReadOnlySpan<T> data, Shape shape, Device? device = null) where T : unmanaged;

    private Tensor FromRawOrTyped<T>(long n, int size, Func<T[]> typed, FromSpanFn<T> make) where T : unmanaged
    {
        if (!RawData.IsEmpty)
        {
            CheckRawLength(n, size);
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw_data is little-endian; big-endian hosts are not supported");
            return make(MemoryMarshal.Cast<byte, T>(RawData.Span), Shape);
        }
        var values = typed();
        if (values.Length != n)
            throw new InvalidDataException($"ONNX tensor '{Name}': has {values.Length} typed values but dims [{string.Join(", ", Dims)}] need {n}");
        return make(values, Shape);
    }

    private void CheckRawLength(long n, int size)
    {
        if (RawData.Length != n * size)
            throw new InvalidDataException($"ONNX tensor '{Name}': raw_data has {RawData.Length} bytes but dims [{string.Join(", ", Dims)}] of {(OnnxDataType)DataType} need {n * size}");
    }
}
