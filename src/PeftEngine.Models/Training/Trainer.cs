using System.Diagnostics;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;

namespace PeftEngine.Models.Training;

/// <summary>
/// Trains any <see cref="ICausalLanguageModel"/> with AdamW: gradient accumulation over micro-batches, a warmup +
/// decay learning-rate schedule, global-norm gradient clipping, periodic held-out evaluation, progress reports
/// and resumable checkpoints. Resuming from a checkpoint continues with exactly the numbers an uninterrupted run
/// would have produced (parameters, optimizer moments, schedule, random generators and data order are restored).
/// </summary>
/// <remarks>
/// One optimizer step: for each of the <c>GradientAccumulationSteps</c> micro-batches, loss = model.Loss(batch) /
/// accumulation and backward (gradients add up); then clip the global norm, AdamW step, scheduler step, zero the
/// gradients. Every micro-batch runs inside its own <see cref="TensorScope"/>, so memory stays flat.
/// HF: <c>transformers.Trainer.train(resume_from_checkpoint=...)</c> with the AdamW optimizer.
/// </remarks>
public sealed class Trainer : IDisposable
{
    private readonly ICausalLanguageModel _model;
    private readonly BatchLoader _train;
    private readonly BatchLoader? _eval;
    private readonly IReadOnlyList<Generator> _generators;
    private readonly List<(string Name, Parameter Parameter)> _trainable;
    private readonly LrScheduler _scheduler;
    private readonly List<LossRecord> _history = [];
    private readonly List<EvalResult> _evaluations = [];

    /// <summary>Sets up AdamW and the schedule for <paramref name="model"/>.</summary>
    /// <param name="model">The model to train (parameters with RequiresGrad are trained).</param>
    /// <param name="options">Run settings.</param>
    /// <param name="train">Training batches.</param>
    /// <param name="eval">Held-out batches, or null for no evaluation.</param>
    /// <param name="groups">Optimizer parameter groups; null puts every trainable parameter in one group.</param>
    /// <param name="generators">Random generators whose state checkpoints save and restore (e.g. the one the
    /// model's dropout draws from); null means <see cref="Generator.Default"/>.</param>
    public Trainer(ICausalLanguageModel model, TrainerOptions options, BatchLoader train, BatchLoader? eval = null,
        IEnumerable<ParamGroup>? groups = null, IReadOnlyList<Generator>? generators = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(train);
        options.Validate();
        _model = model;
        Options = options;
        _train = train;
        _eval = eval;
        _generators = generators ?? [Generator.Default];
        _trainable = model.Module.NamedParameters().Where(np => np.Parameter.RequiresGrad).ToList();
        if (_trainable.Count == 0) throw new ArgumentException("Trainer: the model has no parameter that requires a gradient.", nameof(model));
        var groupList = groups?.ToList() ?? [new ParamGroup(_trainable.Select(np => np.Parameter))];
        Optimizer = options.Optimizer == TrainerOptimizer.AdamW8Bit
            ? new Quant.AdamW8Bit(groupList, options.LearningRate, options.Betas, options.Epsilon, options.WeightDecay)
            : new AdamW(groupList, options.LearningRate, options.Betas, options.Epsilon, options.WeightDecay);
        _scheduler = new LrScheduler(Optimizer, Multiplier(options));
    }

    /// <summary>The run settings.</summary>
    public TrainerOptions Options { get; }

    /// <summary>The optimizer (AdamW, or 8-bit AdamW per <see cref="TrainerOptions.Optimizer"/>, over the trainable
    /// parameters or the given groups).</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Optimizer steps completed.</summary>
    public int Step { get; private set; }

    /// <summary>The loss of every step so far (including steps before a resume).</summary>
    public IReadOnlyList<LossRecord> History => _history;

    /// <summary>Held-out evaluations so far.</summary>
    public IReadOnlyList<EvalResult> Evaluations => _evaluations;

    /// <summary>Called after each reported step.</summary>
    public Action<TrainingProgress>? OnProgress { get; set; }

    /// <summary>Called after each evaluation.</summary>
    public Action<EvalResult>? OnEvaluate { get; set; }

    /// <summary>Called with the folder of each checkpoint written.</summary>
    public Action<string>? OnCheckpoint { get; set; }

    /// <summary>
    /// Runs optimizer steps until <see cref="TrainerOptions.MaxSteps"/> (or <paramref name="stopAfter"/> more
    /// steps, or cancellation, which ends the run after the current step and writes a checkpoint when a
    /// checkpoint folder is set). Evaluates at the end when held-out data was given.
    /// </summary>
    public void Train(int? stopAfter = null, CancellationToken cancel = default)
    {
        int last = stopAfter is { } n ? Math.Min(Options.MaxSteps, Step + n) : Options.MaxSteps;
        var clock = Stopwatch.StartNew();
        long tokens = 0;
        int startStep = Step;
        _model.Module.Train();
        var device = ModelDevice.Of(_model.Module);
        while (Step < last)
        {
            double lr = Optimizer.ParamGroups[0].Lr;
            double loss = 0;
            for (int micro = 0; micro < Options.GradientAccumulationSteps; micro++)
            {
                using var hostBatch = _train.Next();
                using var batch = hostBatch.To(device);      // inputs where the model is (aliases on the CPU)
                using var scope = TensorScope.Begin();
                tokens += CountTokens(hostBatch.AttentionMask);
                var raw = _model.Loss(batch.InputIds, batch.Labels, batch.AttentionMask);
                var scaled = Options.GradientAccumulationSteps == 1 ? raw : Ops.Mul(raw, 1.0 / Options.GradientAccumulationSteps);
                scaled.Backward();
                loss += raw.Item() / Options.GradientAccumulationSteps;
            }
            double norm;
            using (TensorScope.Begin())   // temporaries of clipping and the update; optimizer state lives outside scopes
            {
                norm = GradClip.ClipGradNorm(_trainable.Select(np => np.Parameter),
                    Options.MaxGradNorm is { } max && max > 0 ? max : double.PositiveInfinity);   // ∞: measure only
                Optimizer.Step();
            }
            _scheduler.Step();
            Optimizer.ZeroGrad();
            Step++;
            _history.Add(new LossRecord(Step, loss, lr));

            if (Step == last || Step % Options.LogEvery == 0 || Step == startStep + 1)
            {
                double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                var eta = TimeSpan.FromSeconds(seconds / (Step - startStep) * (Options.MaxSteps - Step));
                OnProgress?.Invoke(new TrainingProgress(Step, Options.MaxSteps, loss, lr, norm, tokens / seconds, clock.Elapsed, eta));
            }
            bool evalNow = _eval is not null && Options.EvalEvery > 0 && Step % Options.EvalEvery == 0;
            if (evalNow) Evaluate();
            bool stopping = cancel.IsCancellationRequested;
            if (Options.CheckpointDirectory is { } dir && (stopping || (Options.CheckpointEvery > 0 && Step % Options.CheckpointEvery == 0)))
                SaveCheckpoint(dir);
            if (stopping) return;
        }
        if (_eval is not null && Step == Options.MaxSteps && (_evaluations.Count == 0 || _evaluations[^1].Step != Step)) Evaluate();
    }

    /// <summary>Measures the held-out loss now (requires held-out data).</summary>
    public EvalResult Evaluate()
    {
        if (_eval is null) throw new InvalidOperationException("Trainer.Evaluate: no held-out data was given.");
        var result = Evaluator.Evaluate(_model, _eval.OnePass(), Step, Options.EvalBatches);
        _evaluations.Add(result);
        OnEvaluate?.Invoke(result);
        return result;
    }

    /// <summary>Writes a checkpoint of the current state under <paramref name="directory"/>; returns its folder.</summary>
    public string SaveCheckpoint(string directory)
    {
        using var dict = Optimizer.StateDict();
        var state = new TrainerState
        {
            Step = Step,
            SchedulerStep = _scheduler.StepCount,
            DataEpoch = _train.Position.Epoch,
            DataBatch = _train.Position.Batch,
            Generators = _generators.Select(g => new GeneratorSnapshot(g.Seed, g.Offset)).ToList(),
            OptimizerGroups = dict.Groups.Select(g => new OptimizerGroupSnapshot(g.Lr, g.WeightDecay, g.InitialLr, g.Params)).ToList(),
            OptimizerParamSteps = new SortedDictionary<int, long>(dict.State.ToDictionary(kv => kv.Key, kv => kv.Value.Step)),
            AllParameters = Options.CheckpointAllParameters,
            History = [.. _history],
            Evaluations = [.. _evaluations],
        };
        var parameters = Options.CheckpointAllParameters ? _model.Module.NamedParameters().ToList() : _trainable;
        string folder = TrainingCheckpoint.Save(directory, parameters, Optimizer, state, Options.KeepCheckpoints);
        OnCheckpoint?.Invoke(folder);
        return folder;
    }

    /// <summary>
    /// Restores the state saved in <paramref name="checkpoint"/> (a checkpoint folder, or a run folder whose newest
    /// checkpoint is used): parameters, optimizer, schedule, generators, data position and history. Call it on a
    /// freshly built trainer over the same model architecture, data and options.
    /// </summary>
    public void Resume(string checkpoint)
    {
        string folder = TrainingCheckpoint.FindLatest(checkpoint)
            ?? throw new DirectoryNotFoundException($"Trainer.Resume: no checkpoint found in '{checkpoint}'.");
        var state = TrainingCheckpoint.Load(folder, _model.Module, Optimizer);
        if (state.Generators.Count != _generators.Count)
            throw new InvalidDataException($"Trainer.Resume: checkpoint '{folder}' saved {state.Generators.Count} random generators, this trainer has {_generators.Count}.");
        for (int i = 0; i < _generators.Count; i++)
            _generators[i].SetState(new GeneratorState(state.Generators[i].Seed, state.Generators[i].Offset));
        while (_scheduler.StepCount < state.SchedulerStep) _scheduler.Step();
        _train.Position = new DataPosition(state.DataEpoch, state.DataBatch);
        Step = state.Step;
        _history.Clear();
        _history.AddRange(state.History);
        _evaluations.Clear();
        _evaluations.AddRange(state.Evaluations);
    }

    /// <summary>Frees the optimizer state.</summary>
    public void Dispose() => Optimizer.Dispose();

    private static Func<int, double> Multiplier(TrainerOptions o) => o.Schedule switch
    {
        LrScheduleKind.Constant => LrSchedule.ConstantWithWarmup(o.WarmupSteps),
        LrScheduleKind.Linear => LrSchedule.LinearWithWarmup(o.WarmupSteps, o.MaxSteps),
        _ => LrSchedule.CosineWithWarmup(o.WarmupSteps, o.MaxSteps),
    };

    private static long CountTokens(Tensor mask)
    {
        long n = 0;
        foreach (byte b in mask.ToArray<byte>()) n += b;
        return n;
    }
}
