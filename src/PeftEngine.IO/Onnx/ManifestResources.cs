using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace PeftEngine.IO.Onnx;

/// <summary>
/// Reads the embedded resources of a .NET assembly file without loading it: the PE file's CLI header points at
/// the resources blob, and each manifest resource names its offset there, where a 4-byte little-endian length
/// precedes the bytes.
/// </summary>
/// <remarks>.NET equivalent: Assembly.GetManifestResourceNames / GetManifestResourceStream, which would load
/// (and could run) the assembly; this only reads bytes.</remarks>
public static class ManifestResources
{
    /// <summary>The names of the resources embedded in <paramref name="assemblyPath"/>.</summary>
    public static IReadOnlyList<string> Names(string assemblyPath)
    {
        using var pe = Open(assemblyPath, out var reader);
        return reader.ManifestResources.Select(h => reader.GetString(reader.GetManifestResource(h).Name)).ToList();
    }

    /// <summary>The bytes of the embedded resource <paramref name="name"/>.</summary>
    public static byte[] Read(string assemblyPath, string name)
    {
        using var pe = Open(assemblyPath, out var reader);
        foreach (var handle in reader.ManifestResources)
        {
            var resource = reader.GetManifestResource(handle);
            if (reader.GetString(resource.Name) != name) continue;
            if (!resource.Implementation.IsNil)
                throw new InvalidDataException($"assembly '{assemblyPath}': resource '{name}' lives in another file, not embedded");
            var directory = pe.PEHeaders.CorHeader!.ResourcesDirectory;
            var block = pe.GetSectionData(directory.RelativeVirtualAddress);
            if (block.Length < directory.Size)
                throw new InvalidDataException($"assembly '{assemblyPath}': the resources directory is truncated");
            var blob = block.GetReader(0, directory.Size);
            if (resource.Offset < 0 || resource.Offset + 4 > directory.Size)
                throw new InvalidDataException($"assembly '{assemblyPath}': resource '{name}' offset {resource.Offset} is outside the resources ({directory.Size} bytes)");
            blob.Offset = (int)resource.Offset;
            int length = blob.ReadInt32();
            if (length < 0 || length > blob.RemainingBytes)
                throw new InvalidDataException($"assembly '{assemblyPath}': resource '{name}' claims {length} bytes, {blob.RemainingBytes} remain");
            return blob.ReadBytes(length);
        }
        throw new KeyNotFoundException($"assembly '{assemblyPath}' has no embedded resource '{name}'; it has: {string.Join(", ", Names(assemblyPath))}");
    }

    private static PEReader Open(string assemblyPath, out MetadataReader reader)
    {
        if (!File.Exists(assemblyPath)) throw new FileNotFoundException($"assembly '{assemblyPath}' not found", assemblyPath);
        var pe = new PEReader(File.OpenRead(assemblyPath));
        try
        {
            if (!pe.HasMetadata) throw new BadImageFormatException($"'{assemblyPath}' is not a .NET assembly (no CLI metadata)");
            reader = pe.GetMetadataReader();
            return pe;
        }
        catch
        {
            pe.Dispose();
            throw;
        }
    }
}
