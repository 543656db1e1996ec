using PeftEngine.IO.Datasets;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>Where a model computes, and moving host-built inputs there (token ids, masks, labels are built on the
/// CPU; a model moved with <see cref="Module.To(Device)"/> needs them on its own device).</summary>
public static class ModelDevice
{
    /// <summary>The device of the module's first parameter (the CPU for a module without parameters).</summary>
    public static Device Of(Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        foreach (var p in module.Parameters()) return p.Data.Device;
        return Device.Cpu;
    }

    /// <summary>The batch's three tensors on <paramref name="device"/> (aliases when they are there already);
    /// dispose the result, the source batch stays the caller's.</summary>
    public static Batch To(this Batch batch, Device device)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return new Batch(batch.InputIds.To(device), batch.AttentionMask.To(device), batch.Labels.To(device));
    }
}
