namespace PeftEngine;

/// <summary>Conversion between dtypes and moves between devices.</summary>
public static partial class Ops
{
    /// <summary>x converted to <paramref name="dtype"/> (a new tensor). Float-to-float casts are differentiable:
    /// the gradient is cast back.</summary>
    /// <remarks>PyTorch: Tensor.to(dtype).</remarks>
    public static Tensor Cast(Tensor x, DType dtype)
    {
        x.ThrowIfDisposed();
        var y = Tensor.Empty(x.Shape, dtype, x.Device);
        x.Backend.Cast(x, y);
        if (Graph.IsRecording(x) && dtype.IsFloat()) Graph.Attach(y, new CastNode(x.DType), x);
        return y;
    }

    /// <summary>x copied to <paramref name="device"/> (through host memory when neither side is the host).</summary>
    public static Tensor ToDevice(Tensor x, Device device)
    {
        x.ThrowIfDisposed();
        if (x.Device == device)
        {
            var same = x.Alias();
            if (Graph.IsRecording(x)) Graph.Attach(same, new PassThroughNode("ToDevice"), x);
            return same;
        }
        using var c = ContiguousNoGrad(x);
        var bytes = new byte[c.Numel * c.DType.SizeOf()];
        c.Backend.CopyToHost(c.Storage, c.Offset * c.DType.SizeOf(), bytes);
        var y = Tensor.Empty(x.Shape, x.DType, device);
        y.Backend.CopyFromHost(bytes, y.Storage, 0);
        if (Graph.IsRecording(x)) Graph.Attach(y, new ToDeviceNode(x.Device), x);
        return y;
    }

    private sealed class CastNode(DType inputDType) : GradNode
    {
        public override Tensor?[] Backward(Tensor g) => [Cast(g, inputDType)];
    }

    private sealed class ToDeviceNode(Device inputDevice) : GradNode
    {
        public override Tensor?[] Backward(Tensor g) => [ToDevice(g, inputDevice)];
    }
}
