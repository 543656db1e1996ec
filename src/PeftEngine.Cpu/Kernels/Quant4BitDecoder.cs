using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PeftEngine.Cpu;

/// <summary>
/// Expands runs of a blockwise 4-bit weight into F32: each 4-bit index picks one of 16 codebook values, which is
/// multiplied by its block's scale. With AVX-512 the 16 codebook values sit in one register and a single
/// permute (vpermps) looks up 16 indices at once: 16 packed bytes become 32 floats in a handful of instructions.
/// </summary>
internal readonly unsafe struct Quant4BitDecoder
{
    private readonly byte* _packed;
    private readonly float* _codebook;
    private readonly float* _absmax;
    private readonly byte* _qAbsmax;
    private readonly float* _nestedAbsmax, _nestedCode;
    private readonly int _blockSize, _nestedBlockSize;
    private readonly float _nestedOffset;

    public Quant4BitDecoder(PackedWeight4Bit w)
    {
        _packed = w.Packed.HostStorage.Ptr<byte>(w.Packed.Offset);
        _codebook = w.Codebook.HostStorage.Ptr<float>(w.Codebook.Offset);
        _blockSize = w.BlockSize;
        if (w.Absmax is { } a) _absmax = a.HostStorage.Ptr<float>(a.Offset);
        else
        {
            _qAbsmax = w.QuantizedAbsmax!.HostStorage.Ptr<byte>(w.QuantizedAbsmax.Offset);
            _nestedAbsmax = w.NestedAbsmax!.HostStorage.Ptr<float>(w.NestedAbsmax.Offset);
            _nestedCode = w.NestedCode!.HostStorage.Ptr<float>(w.NestedCode.Offset);
            _nestedBlockSize = w.NestedBlockSize;
            _nestedOffset = w.NestedOffset;
        }
    }

    /// <summary>The scale of one block (see <see cref="PackedWeight4Bit.BlockScale"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Scale(long block) => _absmax != null
        ? _absmax[block]
        : _nestedCode[_qAbsmax[block]] * _nestedAbsmax[block / _nestedBlockSize] + _nestedOffset;

    /// <summary>Writes elements start .. start+count−1 (row-major over the whole matrix) to dst.</summary>
    public void Decode(long start, int count, float* dst)
    {
        long end = start + count;
        while (start < end)
        {
            long block = start / _blockSize;
            long blockEnd = Math.Min(end, (block + 1) * _blockSize);
            float scale = Scale(block);
            int n = (int)(blockEnd - start);
            DecodeRun(start, n, scale, dst);
            dst += n;
            start = blockEnd;
        }
    }

    /// <summary>Decodes a run that lies inside one block, so it has one scale.</summary>
    private void DecodeRun(long start, int count, float scale, float* dst)
    {
        int i = 0;
        if ((start & 1) != 0)   // an odd start sits in a low nibble: take it alone to reach a byte boundary
        {
            dst[i++] = _codebook[_packed[start >> 1] & 0xF] * scale;
        }
        if (Avx512F.IsSupported)
        {
            var code = Vector512.Load(_codebook);
            var scales = Vector512.Create(scale);
            var lowMask = Vector128.Create((byte)0xF);
            for (; i + 32 <= count; i += 32)
            {
                var bytes = Vector128.Load(_packed + ((start + i) >> 1));        // 16 bytes = 32 indices
                var high = Vector128.ShiftRightLogical(bytes, 4);               // even elements
                var low = bytes & lowMask;                                       // odd elements
                var first = Sse2.UnpackLow(high, low);                           // elements 0..15 in order
                var second = Sse2.UnpackHigh(high, low);                         // elements 16..31
                var v0 = Avx512F.PermuteVar16x32(code, Avx512F.ConvertToVector512Int32(first));
                var v1 = Avx512F.PermuteVar16x32(code, Avx512F.ConvertToVector512Int32(second));
                (v0 * scales).Store(dst + i);
                (v1 * scales).Store(dst + i + 16);
            }
        }
        for (; i < count; i++)
        {
            long e = start + i;
            byte pair = _packed[e >> 1];
            dst[i] = _codebook[(e & 1) == 0 ? pair >> 4 : pair & 0xF] * scale;
        }
    }
}
