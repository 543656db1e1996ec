using System.Runtime.CompilerServices;

namespace PeftEngine.Cpu;

/// <summary>Registers the CPU backends as soon as this assembly loads.</summary>
public static class Registration
{
    /// <summary>Registers <see cref="CpuBackend"/> for <see cref="Device.Cpu"/> and <see cref="ReferenceBackend"/>
    /// for <see cref="Device.CpuReference"/>. Idempotent.</summary>
    public static void EnsureRegistered()
    {
        BackendRegistry.Register(CpuBackend.Instance);
        BackendRegistry.Register(ReferenceBackend.Instance);
    }

#pragma warning disable CA2255 // a backend assembly registering itself on load is the intended use
    [ModuleInitializer]
    internal static void OnLoad() => EnsureRegistered();
#pragma warning restore CA2255
}
