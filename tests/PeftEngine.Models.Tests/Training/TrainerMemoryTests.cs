using PeftEngine.Models.Training;

namespace PeftEngine.Tests.Training;

/// <summary>Runs alone: it reads the process-wide allocator counter.</summary>
[CollectionDefinition(nameof(TrainerMemoryCollection), DisableParallelization = true)]
public sealed class TrainerMemoryCollection;

[Collection(nameof(TrainerMemoryCollection))]
public class TrainerMemoryTests
{
    [Fact]
    public void Steps_RunAtFlatMemory()
    {
        using var model = TinyGpt2.Create(new Generator(6), dropout: 0.1);
        var options = new TrainerOptions { MaxSteps = 12, GradientAccumulationSteps = 2, WarmupSteps = 2 };
        using var trainer = new Trainer(model, options, new BatchLoader(TrainerResumeTests.Examples(), 4, 0, seed: 3));
        trainer.Train(stopAfter: 3);   // optimizer state now exists
        Settle();   // tensors other tests left to the finalizer go back now, not during the measurement
        long before = HostAllocator.Shared.BytesInUse;
        trainer.Train();
        Settle();
        Assert.Equal(12, trainer.Step);
        Assert.Equal(before, HostAllocator.Shared.BytesInUse);
    }

    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
