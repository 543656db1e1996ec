using System.Reflection;
using System.Runtime.CompilerServices;

namespace PeftEngine;

/// <summary>
/// Maps each device to the backend that computes on it. Backend assemblies register themselves; the CPU
/// backends (PeftEngine.Cpu) are loaded on first use so that a program needs no set-up call.
/// </summary>
public static class BackendRegistry
{
    // Every op looks its backend up, so reads take no lock: registration swaps in a new dictionary.
    private static volatile Dictionary<Device, IBackend> _backends = new();
    private static readonly object _lock = new();

    /// <summary>Makes <paramref name="backend"/> the one for its device (replacing any earlier one).</summary>
    public static void Register(IBackend backend)
    {
        lock (_lock) _backends = new Dictionary<Device, IBackend>(_backends) { [backend.Device] = backend };
    }

    /// <summary>The backend for <paramref name="device"/>, or an error saying which assembly to reference.</summary>
    public static IBackend Get(Device device)
    {
        if (_backends.TryGetValue(device, out var b)) return b;
        if (device.IsHost) LoadAssembly("PeftEngine.Cpu");
        if (_backends.TryGetValue(device, out b)) return b;
        throw new InvalidOperationException(device.IsHost
            ? $"no backend for {device}: reference PeftEngine.Cpu"
            : $"no backend for {device}: reference PeftEngine.Gpu and initialise it");
    }

    private static void LoadAssembly(string name)
    {
        try
        {
            var asm = Assembly.Load(name);
            RuntimeHelpers.RunModuleConstructor(asm.ManifestModule.ModuleHandle);
        }
        catch (FileNotFoundException)
        {
            // Reported by Get with a message that names the missing reference.
        }
    }
}
