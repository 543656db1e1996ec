using PeftEngine.Gpu;

namespace PeftEngine.Tests;

/// <summary>Tests that count kernels or cached blocks run alone, so no other test changes the counts meanwhile.</summary>
[CollectionDefinition("GpuSerial", DisableParallelization = true)]
public sealed class GpuSerialCollection;

public class MemoryTests
{
    [Fact]
    public void BytesSurviveARoundTripInEveryDType()
    {
        var d = GpuParity.Device;
        var f = new float[] { 1.5f, -2, float.NaN, 3e-39f, float.PositiveInfinity };
        using (var t = Tensor.FromArray(f).To(d)) Assert.Equal(f, t.ToArray<float>());
        var l = new long[] { long.MinValue, -1, 0, 7, long.MaxValue };
        using (var t = Tensor.FromArray(l).To(d)) Assert.Equal(l, t.ToArray<long>());
        var b = new byte[] { 0, 1, 255 };
        using (var t = Tensor.FromArray(b).To(d)) Assert.Equal(b, t.ToArray<byte>());
        var h = new[] { BFloat16.FromSingle(1.25f), BFloat16.FromSingle(-3e5f) };
        using (var t = Tensor.FromArray(h).To(d)) Assert.Equal(h, t.ToArray<BFloat16>());
        using (var t = Tensor.FromArray(f).To(d))
        using (var back = t.To(Device.Cpu))
        {
            Assert.IsType<DeviceStorage>(t.Storage);
            Assert.Equal(Device.Cpu, back.Device);
            Assert.Equal(f, back.ToArray<float>());
        }
    }

    [Fact]
    public void MissingKernelsSayWhichKernelAndDevice()
    {
        using var x = Tensor.Zeros(new Shape(4), DType.F32, GpuParity.Device);
        var e = Assert.Throws<NotSupportedException>(() => GpuParity.Backend.FillRandom(x, RandomDistribution.TruncatedNormal, 1, 0, 0, 1));
        Assert.Contains("TruncatedNormal", e.Message);
        Assert.Contains(GpuParity.Device.ToString(), e.Message);
    }

}

[Collection("GpuSerial")]
public class SerialBackendTests
{
    [Fact]
    public void FreedBlocksAreReusedAndReleasedOnRequest()
    {
        var alloc = GpuParity.Backend.Allocator;
        Assert.Equal(1536, DeviceAllocator.RoundUp(1025));
        Assert.Equal((3L << 20) + (1L << 19), DeviceAllocator.RoundUp((3L << 20) + 1));
        // An odd size nothing else in the suite asks for, so the free list of that size is ours.
        var shape = new Shape(12345);
        var first = Tensor.Empty(shape, DType.F32, GpuParity.Device);
        first.Dispose();
        long hits = alloc.CacheHits;
        Assert.True(alloc.BytesCached >= DeviceAllocator.RoundUp(12345 * 4));
        using (var second = Tensor.Empty(shape, DType.F32, GpuParity.Device))
            Assert.Equal(hits + 1, alloc.CacheHits);
        alloc.ReleaseCached();
        Assert.Equal(0, alloc.BytesCached);
    }

    [Fact]
    public void KernelsAreCompiledOncePerDType()
    {
        using var a = Tensor.Full(new Shape(3), 2, DType.F32, GpuParity.Device);
        using (var b = Ops.Mul(a, a)) Assert.Equal(new[] { 4f, 4, 4 }, b.ToArray<float>());
        int count = GpuParity.Backend.CompiledKernelCount;
        using (var c = Ops.Mul(a, a)) Assert.Equal(new[] { 4f, 4, 4 }, c.ToArray<float>());
        Assert.Equal(count, GpuParity.Backend.CompiledKernelCount);
    }
}
