using System.Collections.Concurrent;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace PeftEngine.Gpu;

/// <summary>
/// The GPU backend: tensors in the memory of an ILGPU accelerator (a CUDA or OpenCL GPU, or ILGPU's CPU
/// accelerator, which runs the same kernels on the host for testing) and kernels compiled by ILGPU from C#.
/// </summary>
/// <remarks>
/// <para>One backend per device, made with <see cref="Open"/>, which also registers it so that
/// <c>tensor.To(device)</c> and every op find it. All work goes to one stream in order; reading memory back to
/// the host waits for it.</para>
/// <para>Kernels are plain static methods (in <c>Kernels/</c>) written with grid-stride loops, launched with a few
/// groups. Each is compiled once per element type, on first use, and kept in a table. Kernels the backend does
/// not have yet throw <see cref="NotSupportedException"/> naming the kernel and the device.</para>
/// <para>PyTorch: the CUDA backend with its caching allocator and the current stream.</para>
/// </remarks>
public sealed partial class GpuBackend : IBackend, IDisposable
{
    private static readonly object _openLock = new();
    private static readonly Dictionary<Device, GpuBackend> _open = new();

    private readonly Context _context;
    private readonly ConcurrentDictionary<(string Name, Type Type), Delegate> _kernels = new();
    private bool _disposed;

    private GpuBackend(Device device, Context context, Accelerator accelerator)
    {
        Device = device;
        _context = context;
        Accelerator = accelerator;
        Allocator = new DeviceAllocator(accelerator);
        bool cpu = accelerator.AcceleratorType == AcceleratorType.CPU;
        // The CPU accelerator runs every thread of a group as an OS thread: small groups, and few of them,
        // keep it cheap. A GPU wants enough groups to fill all its multiprocessors.
        GroupSize = cpu ? 16 : Math.Min(256, accelerator.MaxNumThreadsPerGroup);
        MaxGroups = cpu ? 2 : Math.Max(1, accelerator.NumMultiprocessors) * 8;
    }

    /// <summary>The device this backend computes on.</summary>
    public Device Device { get; }

    /// <summary>The ILGPU accelerator behind the device.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The caching allocator for this device's memory.</summary>
    public DeviceAllocator Allocator { get; }

    /// <summary>Threads per group of the one-dimensional and row kernels (a power of two).</summary>
    internal int GroupSize { get; }

    /// <summary>The most groups a grid-stride kernel is launched with.</summary>
    internal int MaxGroups { get; }

    /// <summary>The stream every kernel and copy of this backend is queued on.</summary>
    internal AcceleratorStream Stream => Accelerator.DefaultStream;

    /// <summary>
    /// The backend for <paramref name="device"/> (a <see cref="DeviceKind.Cuda"/>, <see cref="DeviceKind.OpenCL"/>
    /// or <see cref="DeviceKind.IlgpuCpu"/> device), created and registered on first use.
    /// </summary>
    /// <remarks>PyTorch: the first use of torch.device("cuda:0").</remarks>
    public static GpuBackend Open(Device device)
    {
        lock (_openLock)
        {
            if (_open.TryGetValue(device, out var existing) && !existing._disposed) return existing;
            var backend = Create(device);
            _open[device] = backend;
            BackendRegistry.Register(backend);
            return backend;
        }
    }

    private static GpuBackend Create(Device device)
    {
        Context? context = null;
        try
        {
            switch (device.Kind)
            {
                case DeviceKind.IlgpuCpu:
                    // The "Nvidia" CPU device emulates a warp of 32 and groups of up to 1024 threads.
                    context = Context.Create(b => b.CPU(CPUDeviceKind.Nvidia).EnableAlgorithms().Math(MathMode.Default));
                    return new GpuBackend(device, context, context.CreateCPUAccelerator(device.Index));
                case DeviceKind.Cuda:
                case DeviceKind.OpenCL:
                {
                    var type = device.Kind == DeviceKind.Cuda ? AcceleratorType.Cuda : AcceleratorType.OpenCL;
                    // EnableAlgorithms supplies the math functions (exp, log, tanh, ...) to the CUDA and OpenCL code generators.
                    context = Context.Create(b => b.AllAccelerators().EnableAlgorithms().Math(MathMode.Default));
                    var devices = context.Devices.Where(d => d.AcceleratorType == type).ToList();
                    if (device.Index < 0 || device.Index >= devices.Count)
                        throw new InvalidOperationException($"GPU backend: there is no {device} (ILGPU found {devices.Count} {type} device(s): {string.Join("; ", devices.Select(d => d.Name))})");
                    return new GpuBackend(device, context, devices[device.Index].CreateAccelerator(context));
                }
                default:
                    throw new ArgumentException($"GPU backend: {device} is not a GPU device; use cuda, opencl or ilgpucpu");
            }
        }
        catch
        {
            context?.Dispose();
            throw;
        }
    }

    /// <summary>The GPU devices ILGPU can open on this machine (CUDA, then OpenCL), without opening them.</summary>
    public static IReadOnlyList<(Device Device, string Name)> ListDevices()
    {
        using var context = Context.Create(b => b.AllAccelerators());
        var result = new List<(Device, string)>();
        foreach (var (type, kind) in new[] { (AcceleratorType.Cuda, DeviceKind.Cuda), (AcceleratorType.OpenCL, DeviceKind.OpenCL) })
        {
            int i = 0;
            foreach (var d in context.Devices.Where(d => d.AcceleratorType == type)) result.Add((new Device(kind, i++), d.Name));
        }
        return result;
    }

    /// <summary>The first CUDA device, else the first OpenCL device, else null.</summary>
    public static Device? BestGpu()
    {
        var all = ListDevices();
        return all.Count == 0 ? null : all[0].Device;
    }

    /// <summary>Waits until every queued kernel and copy has finished.</summary>
    /// <remarks>PyTorch: torch.cuda.synchronize().</remarks>
    public void Synchronize() => Stream.Synchronize();

    /// <summary>Frees the cached memory and the accelerator. Tensors still on the device must not be used afterwards.</summary>
    public void Dispose()
    {
        lock (_openLock)
        {
            if (_disposed) return;
            _disposed = true;
            _open.Remove(Device);
        }
        Stream.Synchronize();
        DisposeCuBlas();
        Allocator.Dispose();
        Accelerator.Dispose();
        _context.Dispose();
    }

    // ---- memory -------------------------------------------------------------------------------------------

    public Storage Allocate(long bytes) => new DeviceStorage(Device, Allocator, bytes);

    public void CopyFromHost(ReadOnlySpan<byte> src, Storage dst, long byteOffset)
    {
        var d = AsDevice(dst, "CopyFromHost");
        if (byteOffset < 0 || byteOffset + src.Length > d.ByteLength) throw new ArgumentOutOfRangeException(nameof(src), "CopyFromHost: copy runs past the end of the storage");
        if (src.Length == 0) return;
        d.Bytes.SubView(byteOffset, src.Length).CopyFromCPU(Stream, in src);
        Stream.Synchronize(); // the host span may go away as soon as we return
    }

    public void CopyToHost(Storage src, long byteOffset, Span<byte> dst)
    {
        var s = AsDevice(src, "CopyToHost");
        if (byteOffset < 0 || byteOffset + dst.Length > s.ByteLength) throw new ArgumentOutOfRangeException(nameof(dst), "CopyToHost: copy runs past the end of the storage");
        if (dst.Length == 0) return;
        s.Bytes.SubView(byteOffset, dst.Length).CopyToCPU(Stream, in dst);
        Stream.Synchronize();
    }

    private DeviceStorage AsDevice(Storage s, string op)
    {
        if (s is DeviceStorage d && s.Device == Device) return d;
        throw new ArgumentException($"{op}: expected memory on {Device}, got storage on {s.Device}; move the tensor with .To({Device})");
    }

    // ---- helpers for the kernel families --------------------------------------------------------------------

    /// <summary>The elements of <paramref name="t"/>'s storage as <typeparamref name="T"/> (index with t.Offset).</summary>
    internal ArrayView<T> View<T>(Tensor t) where T : unmanaged
    {
        t.ThrowIfDisposed();
        return AsDevice(t.Storage, "kernel").As<T>();
    }

    /// <summary>The elements of a contiguous tensor (or of a stand-in when <paramref name="t"/> is null, for an
    /// argument a kernel is told to ignore).</summary>
    internal ArrayView<T> Data<T>(Tensor? t, Tensor standIn) where T : unmanaged
    {
        var x = t ?? standIn;
        return View<T>(x).SubView(x.Offset, Math.Max(1, x.Numel));
    }

    /// <summary>The elements of a contiguous tensor, starting at its first element.</summary>
    internal ArrayView<T> Data<T>(Tensor t) where T : unmanaged => Data<T>(t, t);

    /// <summary>A kernel from the table, compiled by <paramref name="load"/> the first time it is asked for.</summary>
    internal TDelegate Kernel<TDelegate>(string name, Type elementType, Func<Accelerator, TDelegate> load) where TDelegate : Delegate =>
        (TDelegate)_kernels.GetOrAdd((name, elementType), _ => load(Accelerator));

    /// <summary>Number of kernels compiled so far.</summary>
    public int CompiledKernelCount => _kernels.Count;

    /// <summary>A one-dimensional launch covering <paramref name="n"/> work items with a grid-stride loop.</summary>
    internal KernelConfig Linear(long n) =>
        new((int)Math.Clamp((n + GroupSize - 1) / GroupSize, 1, MaxGroups), GroupSize);

    /// <summary>A launch with one group per row (grid-stride over <paramref name="rows"/>).</summary>
    internal KernelConfig PerRow(long rows) => new((int)Math.Clamp(rows, 1, MaxGroups), GroupSize);

    /// <summary>The error for a kernel this backend does not have (yet).</summary>
    internal NotSupportedException NotOnGpu(string kernel, string? detail = null) =>
        new($"{kernel} is not implemented on the GPU backend ({Device}){(detail is null ? "" : ": " + detail)}; move the tensors to the CPU with .To(Device.Cpu) for this step");

    /// <summary>Throws unless t is F32 or F64.</summary>
    internal void RequireCompute(Tensor t, string kernel)
    {
        if (!t.DType.IsCompute()) throw NotOnGpu(kernel, $"dtype {t.DType.Name()}; kernels compute in f32 or f64");
    }
}
