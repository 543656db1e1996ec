using PeftEngine.Cpu;
using System.Runtime.InteropServices;
using PeftEngine.IO.Gguf;

namespace PeftEngine.Quant;

/// <summary>
/// A (rows, cols) weight kept exactly as a GGUF file stores it: each row is a run of ggml blocks of type Q8_0, Q4_0
/// or Q4_K (cols must be a multiple of the block size, so no block straddles two rows). The bytes live in 64-byte
/// aligned native memory and take exactly rows · cols / blockSize · blockBytes bytes.
/// </summary>
/// <remarks>llama.cpp: a ggml tensor of type GGML_TYPE_Q8_0 / Q4_0 / Q4_K with ne = [cols, rows].</remarks>
public sealed unsafe class GgmlPackedWeight : IDisposable
{
    private byte* _data;

    /// <summary>The block types that can be kept packed and multiplied directly.</summary>
    public static readonly GgmlType[] PackableTypes = [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K];

    private GgmlPackedWeight(GgmlType type, int rows, int cols)
    {
        var (size, bytes) = Geometry(type);
        if (rows <= 0 || cols <= 0 || cols % size != 0)
            throw new ArgumentException($"GgmlPackedWeight: a {type} weight needs a positive number of rows and columns that are a multiple of {size}, got ({rows}, {cols})");
        Type = type;
        Rows = rows;
        Cols = cols;
        BlockSize = size;
        BlockBytes = bytes;
        RowBytes = cols / size * bytes;
        ByteCount = (long)rows * RowBytes;
        _data = (byte*)NativeMemory.AlignedAlloc((nuint)ByteCount, 64);
    }

    /// <summary>Copies <paramref name="blocks"/> (rows · cols / blockSize blocks, row after row) into a new packed weight.</summary>
    public static GgmlPackedWeight FromBlocks(GgmlType type, int rows, int cols, ReadOnlySpan<byte> blocks)
    {
        var w = new GgmlPackedWeight(type, rows, cols);
        if (blocks.Length != w.ByteCount)
        {
            long expected = w.ByteCount;
            w.Dispose();
            throw new ArgumentException($"GgmlPackedWeight: a ({rows}, {cols}) {type} weight takes {expected} bytes, got {blocks.Length}");
        }
        blocks.CopyTo(new Span<byte>(w._data, checked((int)w.ByteCount)));
        return w;
    }

    /// <summary>Copies the rows of <paramref name="blocks"/> (rows · cols / blockSize blocks, row after row) into a new
    /// packed weight in another order: row i of the result is stored row <c>source[i]</c> (whole rows of blocks move;
    /// exact). Used to put a GGUF file's permuted q/k rows back in place while loading.</summary>
    public static GgmlPackedWeight FromBlockRows(GgmlType type, int rows, int cols, ReadOnlySpan<byte> blocks, ReadOnlySpan<int> source)
    {
        var w = new GgmlPackedWeight(type, rows, cols);
        try
        {
            if (blocks.Length != w.ByteCount)
                throw new ArgumentException($"GgmlPackedWeight: a ({rows}, {cols}) {type} weight takes {w.ByteCount} bytes, got {blocks.Length}");
            w.CopyRows(blocks, source);
            return w;
        }
        catch
        {
            w.Dispose();
            throw;
        }
    }

    /// <summary>Quantizes an F32 (rows, cols) weight with ggml's reference quantizer (Q8_0 or Q4_0; llama.cpp has no
    /// simple reference for Q4_K's scale search, so Q4_K cannot be re-quantized here).</summary>
    public static GgmlPackedWeight Quantize(Tensor weight, GgmlType type)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2)
            throw new ArgumentException($"GgmlPackedWeight.Quantize: expected a 2-D (rows, cols) weight, got {weight.Shape}");
        float[] values = weight.ToFloatArray();
        byte[] blocks = type switch
        {
            GgmlType.Q8_0 => GgufQuants.QuantizeQ8_0(values),
            GgmlType.Q4_0 => GgmlLegacyBlocks.QuantizeQ4_0(values),
            _ => throw new NotSupportedException($"GgmlPackedWeight.Quantize: quantizing to {type} is not supported (Q8_0 and Q4_0 are)"),
        };
        return FromBlocks(type, weight.Shape[0], weight.Shape[1], blocks);
    }

    /// <summary>(elements per block, bytes per block) of a packable type.</summary>
    public static (int Size, int Bytes) Geometry(GgmlType type) => type switch
    {
        GgmlType.Q8_0 => (32, 34),
        GgmlType.Q4_0 => (32, 18),
        GgmlType.Q4_K => (256, 144),
        _ => throw new NotSupportedException($"ggml type {type} cannot be kept packed (packable: {string.Join(", ", PackableTypes)})"),
    };

    /// <summary>The ggml block type.</summary>
    public GgmlType Type { get; }

    /// <summary>Rows (a Linear layer's output features).</summary>
    public int Rows { get; }

    /// <summary>Columns (input features).</summary>
    public int Cols { get; }

    /// <summary>Elements per block (32, or 256 for Q4_K).</summary>
    public int BlockSize { get; }

    /// <summary>Bytes per block.</summary>
    public int BlockBytes { get; }

    /// <summary>Bytes of one row.</summary>
    public int RowBytes { get; }

    /// <summary>Bytes of the whole weight (the memory it holds).</summary>
    public long ByteCount { get; }

    internal byte* Data => _data != null ? _data : throw new ObjectDisposedException(nameof(GgmlPackedWeight));

    /// <summary>The blocks of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<byte> RowBlocks(int row) => new(Data + (long)row * RowBytes, RowBytes);

    /// <summary>Expands rows [r0, r0 + count) into <paramref name="output"/> (count · cols floats).</summary>
    public void DequantizeRows(int r0, int count, Span<float> output)
    {
        if (r0 < 0 || count < 0 || r0 + count > Rows || output.Length != (long)count * Cols)
            throw new ArgumentException($"GgmlPackedWeight.DequantizeRows: rows [{r0}, {r0 + count}) of {Rows} into {output.Length} floats");
        GgufDequantizer.Dequantize(Type, new ReadOnlySpan<byte>(Data + (long)r0 * RowBytes, count * RowBytes), output);
    }

    /// <summary>The F32 (rows, cols) matrix these blocks stand for.</summary>
    public Tensor Dequantize()
    {
        var t = Tensor.Empty(new Shape(Rows, Cols), DType.F32, Device.Cpu);
        float* dst = t.HostStorage.Ptr<float>(t.Offset);
        CpuParallel.For(Rows, Cols, (r0, r1) =>
            DequantizeRows((int)r0, (int)(r1 - r0), new Span<float>(dst + r0 * Cols, (int)((r1 - r0) * Cols))));
        return t;
    }

    /// <summary>A new weight whose row i is row <c>source[i]</c> of this one (whole rows of blocks move; exact).</summary>
    public GgmlPackedWeight GatherRows(ReadOnlySpan<int> source) =>
        FromBlockRows(Type, Rows, Cols, new ReadOnlySpan<byte>(Data, checked((int)ByteCount)), source);

    /// <summary>Fills this weight's row i with row <c>source[i]</c> of <paramref name="blocks"/> (same geometry).</summary>
    private void CopyRows(ReadOnlySpan<byte> blocks, ReadOnlySpan<int> source)
    {
        if (source.Length != Rows)
            throw new ArgumentException($"GgmlPackedWeight.GatherRows: {source.Length} row indices for {Rows} rows");
        for (int i = 0; i < Rows; i++)
        {
            if ((uint)source[i] >= (uint)Rows)
                throw new ArgumentOutOfRangeException(nameof(source), $"GgmlPackedWeight.GatherRows: row index {source[i]} outside [0, {Rows})");
            blocks.Slice(source[i] * RowBytes, RowBytes).CopyTo(new Span<byte>(_data + (long)i * RowBytes, RowBytes));
        }
    }

    /// <summary>Frees the native block memory.</summary>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the block memory of a weight nobody disposed.</summary>
    ~GgmlPackedWeight() => Free();

    private void Free()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
    }

    /// <inheritdoc/>
    public override string ToString() => $"GgmlPackedWeight({Type}, {Rows}x{Cols}, {ByteCount} bytes)";
}
