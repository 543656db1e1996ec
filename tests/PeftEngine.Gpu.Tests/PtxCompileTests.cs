using System.Reflection;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PeftEngine.Gpu;

namespace PeftEngine.Tests;

/// <summary>
/// Every kernel compiles to PTX for an sm_80 GPU (no GPU or driver needed: ILGPU's PTX backend runs on the host).
/// The CPU accelerator executes the kernels' logic; this catches what only the CUDA code generator rejects.
/// </summary>
public class PtxCompileTests
{
    private static IEnumerable<MethodInfo> KernelMethods()
    {
        var types = typeof(GpuBackend).Assembly.GetTypes().Where(t => t.Namespace == "PeftEngine.Gpu.Kernels" && t.Name.EndsWith("Kernels") || t.Name == "GemmKernel");
        foreach (var type in types)
            foreach (var m in type.GetMethods(BindingFlags.Public | BindingFlags.Static))
            {
                if (m.ReturnType != typeof(void)) continue;
                var args = m.GetGenericArguments();
                if (args.Length == 0) { yield return m; continue; }
                var real = typeof(GpuBackend).Assembly.GetType("PeftEngine.Gpu.Kernels.F32")!;
                var real64 = typeof(GpuBackend).Assembly.GetType("PeftEngine.Gpu.Kernels.F64")!;
                if (args.Length == 2) { yield return m.MakeGenericMethod(typeof(float), real); yield return m.MakeGenericMethod(typeof(double), real64); continue; }
                bool numeric = args[0].GetGenericParameterConstraints().Any(c => c.Name.StartsWith("INumber") || c.Name.StartsWith("IFloatingPoint"));
                if (numeric) { yield return m.MakeGenericMethod(typeof(float)); yield return m.MakeGenericMethod(typeof(double)); }
                else yield return m.MakeGenericMethod(typeof(uint));
            }
    }

    [Fact]
    public void EveryKernelCompilesToPtx()
    {
        using var context = Context.Create(b => b.EnableAlgorithms().Math(MathMode.Default));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_80), CudaArchitecture.SM_80, CudaInstructionSet.ISA_80, null!);
        var methods = KernelMethods().ToList();
        Assert.True(methods.Count >= 30, $"found only {methods.Count} kernels");
        var failures = new List<string>();
        foreach (var m in methods)
        {
            try
            {
                var entry = EntryPointDescription.FromExplicitlyGroupedKernel(m);
                var compiled = (PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty);
                if (!compiled.PTXAssembly.Contains(".entry")) failures.Add($"{m}: no entry point in the PTX");
            }
            catch (Exception e)
            {
                failures.Add($"{m.DeclaringType!.Name}.{m}: {e.GetBaseException().Message}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
