namespace PeftEngine;

/// <summary>
/// A (rows, cols) weight matrix stored in blockwise 4-bit form, the layout of bitsandbytes' NF4/FP4 weights:
/// the matrix is read row-major as one sequence, cut into blocks of <see cref="BlockSize"/> elements, and each
/// element is a 4-bit index into a 16-entry <see cref="Codebook"/>, scaled by its block's absmax:
/// <c>w[i] = codebook[q[i]] · absmax[i / BlockSize]</c>. Two indices share a byte, the first in the high nibble.
/// </summary>
/// <remarks>
/// <para>The block scales are either plain F32 (<see cref="Absmax"/>) or themselves quantized to 8 bits
/// ("double quantization"): <c>absmax[b] = nestedCode[qAbsmax[b]] · nestedAbsmax[b / NestedBlockSize] + NestedOffset</c>.
/// With double quantization a weight costs 4 + 8/64 + 32/(64·256) ≈ 4.13 bits.</para>
/// <para>This is only the storage and its contract with the backends (<see cref="IBackend.MatMul4Bit"/>); making
/// the codes (NF4, FP4) and reading checkpoints lives in PeftEngine.Quant. The tensors are owned by this object
/// (taken out of any <see cref="TensorScope"/>) and freed by <see cref="Dispose"/>.
/// bitsandbytes: a Params4bit with its QuantState.</para>
/// </remarks>
public sealed class PackedWeight4Bit : IDisposable
{
    private PackedWeight4Bit(int rows, int cols, int blockSize, Tensor packed, Tensor codebook)
    {
        if (rows <= 0 || cols <= 0)
            throw new ArgumentException($"PackedWeight4Bit: rows and cols must be positive, got ({rows}, {cols})");
        if (blockSize <= 0 || blockSize % 2 != 0)
            throw new ArgumentException($"PackedWeight4Bit: the block size must be a positive even number, got {blockSize}");
        long count = (long)rows * cols;
        Expect(packed, "packed", DType.U8, (count + 1) / 2);
        Expect(codebook, "codebook", DType.F32, 16);
        Rows = rows;
        Cols = cols;
        BlockSize = blockSize;
        Packed = packed;
        Codebook = codebook;
    }

    /// <summary>Wraps packed indices with plain F32 block scales (absmax: one per block).</summary>
    public PackedWeight4Bit(int rows, int cols, int blockSize, Tensor packed, Tensor codebook, Tensor absmax)
        : this(rows, cols, blockSize, packed, codebook)
    {
        Expect(absmax, "absmax", DType.F32, NumBlocks);
        Absmax = absmax;
    }

    /// <summary>Wraps packed indices whose block scales are double-quantized: 8-bit indices
    /// <paramref name="quantizedAbsmax"/> into <paramref name="nestedCode"/> (256 entries), scaled per group of
    /// <paramref name="nestedBlockSize"/> blocks by <paramref name="nestedAbsmax"/>, plus <paramref name="nestedOffset"/>.</summary>
    public PackedWeight4Bit(int rows, int cols, int blockSize, Tensor packed, Tensor codebook,
        Tensor quantizedAbsmax, Tensor nestedAbsmax, Tensor nestedCode, int nestedBlockSize, float nestedOffset)
        : this(rows, cols, blockSize, packed, codebook)
    {
        if (nestedBlockSize <= 0)
            throw new ArgumentException($"PackedWeight4Bit: the nested block size must be positive, got {nestedBlockSize}");
        Expect(quantizedAbsmax, "quantized absmax", DType.U8, NumBlocks);
        Expect(nestedAbsmax, "nested absmax", DType.F32, (NumBlocks + nestedBlockSize - 1) / nestedBlockSize);
        Expect(nestedCode, "nested code", DType.F32, 256);
        QuantizedAbsmax = quantizedAbsmax;
        NestedAbsmax = nestedAbsmax;
        NestedCode = nestedCode;
        NestedBlockSize = nestedBlockSize;
        NestedOffset = nestedOffset;
    }

    /// <summary>Rows of the matrix (a Linear layer's out_features).</summary>
    public int Rows { get; }

    /// <summary>Columns of the matrix (a Linear layer's in_features).</summary>
    public int Cols { get; }

    /// <summary>Elements per absmax block (bitsandbytes' default for 4-bit: 64).</summary>
    public int BlockSize { get; }

    /// <summary>Number of blocks: ceil(rows · cols / BlockSize).</summary>
    public long NumBlocks => ((long)Rows * Cols + BlockSize - 1) / BlockSize;

    /// <summary>The 4-bit indices, two per byte, first in the high nibble: U8 (ceil(rows·cols / 2)).</summary>
    public Tensor Packed { get; }

    /// <summary>The 16 values an index stands for (before the block scale), F32 (16).</summary>
    public Tensor Codebook { get; }

    /// <summary>Plain block scales, F32 (NumBlocks); null with double quantization.</summary>
    public Tensor? Absmax { get; }

    /// <summary>Whether the block scales are double-quantized.</summary>
    public bool IsDoubleQuantized => QuantizedAbsmax is not null;

    /// <summary>Double quantization: 8-bit block-scale indices, U8 (NumBlocks).</summary>
    public Tensor? QuantizedAbsmax { get; }

    /// <summary>Double quantization: one scale per <see cref="NestedBlockSize"/> blocks, F32.</summary>
    public Tensor? NestedAbsmax { get; }

    /// <summary>Double quantization: the 256 values an 8-bit block-scale index stands for, F32 (256).</summary>
    public Tensor? NestedCode { get; }

    /// <summary>Double quantization: blocks per nested scale (bitsandbytes: 256).</summary>
    public int NestedBlockSize { get; }

    /// <summary>Double quantization: the mean that was subtracted from the scales before quantizing them.</summary>
    public float NestedOffset { get; }

    /// <summary>The device the tensors live on.</summary>
    public Device Device => Packed.Device;

    /// <summary>Bytes held by this weight (indices, scales and codebooks).</summary>
    public long ByteSize =>
        Bytes(Packed) + Bytes(Codebook) + Bytes(Absmax) + Bytes(QuantizedAbsmax) + Bytes(NestedAbsmax) + Bytes(NestedCode);

    /// <summary>The scale of block <paramref name="block"/>, read on the host (the definition kernels follow).</summary>
    public unsafe float BlockScale(long block)
    {
        if (Absmax is not null) return Absmax.HostStorage.Ptr<float>(Absmax.Offset)[block];
        byte q = QuantizedAbsmax!.HostStorage.Ptr<byte>(QuantizedAbsmax.Offset)[block];
        float code = NestedCode!.HostStorage.Ptr<float>(NestedCode.Offset)[q];
        float nested = NestedAbsmax!.HostStorage.Ptr<float>(NestedAbsmax.Offset)[block / NestedBlockSize];
        return code * nested + NestedOffset;
    }

    /// <summary>A copy of this weight with every tensor on <paramref name="device"/> (the same codes and scales);
    /// this weight is left as it is.</summary>
    /// <remarks>bitsandbytes: Params4bit.to(device), which moves the quant state with the packed data.</remarks>
    public PackedWeight4Bit To(Device device)
    {
        using (GradMode.Disable())
        {
            var packed = Packed.To(device);
            var codebook = Codebook.To(device);
            return IsDoubleQuantized
                ? new PackedWeight4Bit(Rows, Cols, BlockSize, packed, codebook, QuantizedAbsmax!.To(device), NestedAbsmax!.To(device),
                    NestedCode!.To(device), NestedBlockSize, NestedOffset)
                : new PackedWeight4Bit(Rows, Cols, BlockSize, packed, codebook, Absmax!.To(device));
        }
    }

    /// <summary>Frees the tensors.</summary>
    public void Dispose()
    {
        Packed.Dispose();
        Codebook.Dispose();
        Absmax?.Dispose();
        QuantizedAbsmax?.Dispose();
        NestedAbsmax?.Dispose();
        NestedCode?.Dispose();
    }

    private static long Bytes(Tensor? t) => t is null ? 0 : t.Numel * t.DType.SizeOf();

    private static void Expect(Tensor t, string what, DType dtype, long count)
    {
        ArgumentNullException.ThrowIfNull(t, what);
        if (t.DType != dtype || t.Numel != count || !t.IsContiguous)
            throw new ArgumentException(
                $"PackedWeight4Bit: {what} must be a contiguous {dtype.Name()} tensor of {count} elements, got {t.DType.Name()} {t.Shape}");
        TensorScope.Detach(t);   // owned by this weight from now on
    }
}
