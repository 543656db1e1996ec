using PeftEngine.IO.Gguf;
using PeftEngine.Quant;

namespace PeftEngine.Tests;

/// <summary>Packed GGUF layers compute on the CPU only: moving one to the GPU device is refused with a message,
/// before anything has moved.</summary>
public class GgufDeviceTests
{
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    public void MovingAPackedGgufLayerToTheDeviceIsRefused(GgmlType type)
    {
        using var linear = new PeftEngine.Nn.Linear(32, 4, generator: new Generator(1));
        using var layer = GgufLinear.FromLinear(linear, type);
        var e = Assert.Throws<NotSupportedException>(() => layer.To(GpuParity.Device));
        Assert.Contains($"packed {type} weights compute on the CPU only", e.Message);
        Assert.Contains("LlamaModel.FromGguf", e.Message);
        Assert.True(layer.Bias!.Data.Device.IsHost);   // refused before the bias moved
    }
}
