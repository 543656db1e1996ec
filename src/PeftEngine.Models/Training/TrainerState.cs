using System.Text.Json;
using System.Text.Json.Serialization;

namespace PeftEngine.Models.Training;

/// <summary>The small, non-tensor part of a training checkpoint (written as <c>trainer_state.json</c>): where the
/// step counter, the schedule, the random generators and the data stream stood, and the optimizer's
/// hyperparameters and per-parameter step counts.</summary>
/// <remarks>HF: <c>trainer_state.json</c> + the scheduler and RNG files of a Trainer checkpoint folder.</remarks>
public sealed record TrainerState
{
    /// <summary>Optimizer steps completed.</summary>
    public int Step { get; init; }

    /// <summary>Steps the learning-rate scheduler has taken.</summary>
    public int SchedulerStep { get; init; }

    /// <summary>Epoch of the next training batch.</summary>
    public int DataEpoch { get; init; }

    /// <summary>Batches already taken from that epoch.</summary>
    public int DataBatch { get; init; }

    /// <summary>State of each random generator the trainer was given, in order.</summary>
    public List<GeneratorSnapshot> Generators { get; init; } = [];

    /// <summary>Optimizer parameter groups.</summary>
    public List<OptimizerGroupSnapshot> OptimizerGroups { get; init; } = [];

    /// <summary>Per-parameter optimizer step counts, by parameter index across groups.</summary>
    public SortedDictionary<int, long> OptimizerParamSteps { get; init; } = [];

    /// <summary>Whether model.safetensors holds every parameter (else only the trainable ones).</summary>
    public bool AllParameters { get; init; }

    /// <summary>The loss of every step so far.</summary>
    public List<LossRecord> History { get; init; } = [];

    /// <summary>Held-out evaluations so far.</summary>
    public List<EvalResult> Evaluations { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The JSON text.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses the JSON text; <paramref name="file"/> names the source in errors.</summary>
    public static TrainerState Parse(string json, string file)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(json, Json)
                ?? throw new InvalidDataException($"{file}: empty trainer state.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: not a valid trainer state ({e.Message}).", e);
        }
    }
}

/// <summary>A random generator's seed and position.</summary>
/// <param name="Seed">The seed.</param>
/// <param name="Offset">Philox blocks consumed.</param>
public sealed record GeneratorSnapshot(ulong Seed, ulong Offset);

/// <summary>The hyperparameters of one optimizer group.</summary>
/// <param name="Lr">Current learning rate.</param>
/// <param name="WeightDecay">Weight decay.</param>
/// <param name="InitialLr">The rate the schedule scales.</param>
/// <param name="Params">Indices of the group's parameters (counted across groups).</param>
public sealed record OptimizerGroupSnapshot(double Lr, double WeightDecay, double InitialLr, int[] Params);
