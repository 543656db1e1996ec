namespace PeftEngine;

/// <summary>A generator's whole state: the seed (the Philox key) and the next unused block (the offset).</summary>
public readonly record struct GeneratorState(ulong Seed, ulong Offset);

/// <summary>
/// A seeded source of random numbers for tensor fills. It holds no random state of its own, only a seed and a
/// counter: each fill reserves a fresh range of Philox blocks (<see cref="Reserve"/>) and computes element i from
/// block offset + i / 4 (for one 32-bit word per element). Two fills never share a block, and the numbers a fill
/// produces depend only on (seed, offset, i), never on the thread count or the device.
/// </summary>
/// <remarks>
/// PyTorch: torch.Generator with the Philox engine; <see cref="Default"/> is torch.default_generator and
/// <c>Generator.Default.ManualSeed(s)</c> is torch.manual_seed(s). Thread safe.
/// </remarks>
public sealed class Generator
{
    /// <summary>The seed of <see cref="Default"/> until <see cref="ManualSeed(ulong)"/> changes it.</summary>
    public const ulong DefaultSeed = 0x5EED_2024UL;

    private readonly object _lock = new();
    private ulong _seed;
    private ulong _offset;

    /// <summary>A generator whose stream is fixed by <paramref name="seed"/>, starting at block 0.</summary>
    public Generator(ulong seed) => _seed = seed;

    /// <summary>The generator used when an op is given none.</summary>
    public static Generator Default { get; } = new(DefaultSeed);

    /// <summary>The seed (the Philox key).</summary>
    public ulong Seed
    {
        get { lock (_lock) return _seed; }
    }

    /// <summary>The first block the next fill will use.</summary>
    public ulong Offset
    {
        get { lock (_lock) return _offset; }
    }

    /// <summary>Sets a new seed and rewinds to block 0.</summary>
    public void ManualSeed(ulong seed)
    {
        lock (_lock)
        {
            _seed = seed;
            _offset = 0;
        }
    }

    /// <summary>The seed and offset, to restore later with <see cref="SetState"/>.</summary>
    /// <remarks>PyTorch: Generator.get_state.</remarks>
    public GeneratorState GetState()
    {
        lock (_lock) return new GeneratorState(_seed, _offset);
    }

    /// <summary>Restores a state from <see cref="GetState"/>: the fills that follow repeat the ones made after it was taken.</summary>
    public void SetState(GeneratorState state)
    {
        lock (_lock)
        {
            _seed = state.Seed;
            _offset = state.Offset;
        }
    }

    /// <summary>Reserves <paramref name="blocks"/> consecutive Philox blocks and returns the seed and the first block.</summary>
    public (ulong Seed, ulong Offset) Reserve(ulong blocks)
    {
        lock (_lock)
        {
            ulong start = _offset;
            _offset += blocks;
            return (_seed, start);
        }
    }

    /// <summary>Reserves the blocks a fill of <paramref name="numel"/> elements of the given distribution and dtype needs
    /// (see <see cref="RandomSampling.BlocksFor"/>).</summary>
    public (ulong Seed, ulong Offset) Reserve(long numel, RandomDistribution distribution, DType dtype) =>
        Reserve(RandomSampling.BlocksFor(numel, RandomSampling.WordsPerElement(distribution, dtype)));

    public override string ToString() => $"Generator(seed={Seed}, offset={Offset})";
}
