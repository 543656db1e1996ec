using System.IO.MemoryMappedFiles;

namespace PeftEngine.IO.Internal;

/// <summary>A whole file mapped read-only into memory, with a pointer to its first byte. Readers of binary
/// checkpoint formats (safetensors, GGUF) parse headers and copy tensors straight from it.</summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private bool _disposed;

    private MappedFile(MemoryMappedFile map, MemoryMappedViewAccessor view, byte* pointer, long length)
    {
        _map = map;
        _view = view;
        Pointer = pointer;
        Length = length;
    }

    /// <summary>The first byte of the file; valid until <see cref="Dispose"/>.</summary>
    public byte* Pointer { get; }

    /// <summary>The file's size in bytes.</summary>
    public long Length { get; }

    /// <summary>Maps <paramref name="length"/> bytes (the whole file) of <paramref name="path"/> for reading.</summary>
    public static MappedFile Open(string path, long length)
    {
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            acquired = true;
            return new MappedFile(map, view, p + view.PointerOffset, length);
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    /// <summary>Unmaps the file. Safe to call twice.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
