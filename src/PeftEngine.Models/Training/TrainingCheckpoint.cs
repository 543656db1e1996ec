using System.Globalization;
using PeftEngine.IO;
using PeftEngine.IO.Safetensors;
using PeftEngine.Nn;
using PeftEngine.Nn.Optim;

namespace PeftEngine.Models.Training;

/// <summary>
/// Checkpoint folders of a training run. Each checkpoint is a folder <c>checkpoint-NNNNNN</c> holding
/// <c>model.safetensors</c> (parameters), <c>optimizer.safetensors</c> (optimizer state tensors named
/// <c>{parameter index}.{state name}</c>) and <c>trainer_state.json</c> (<see cref="TrainerState"/>); the file
/// <c>latest</c> names the newest complete one.
/// </summary>
/// <remarks>
/// <para>Saving is crash-safe: the files go to a hidden temporary folder that is renamed into place only once all
/// are written, and <c>latest</c> is replaced atomically after that. An interrupted save leaves every earlier
/// checkpoint and <c>latest</c> as they were.</para>
/// <para>HF: the <c>checkpoint-N</c> folders of <c>transformers.Trainer</c> (model, optimizer.pt, scheduler.pt,
/// rng_state.pth, trainer_state.json) and <c>resume_from_checkpoint</c>.</para>
/// </remarks>
public static class TrainingCheckpoint
{
    /// <summary>File name of the parameters.</summary>
    public const string ModelFile = "model.safetensors";

    /// <summary>File name of the optimizer state tensors.</summary>
    public const string OptimizerFile = "optimizer.safetensors";

    /// <summary>File name of the trainer state.</summary>
    public const string StateFile = "trainer_state.json";

    /// <summary>File naming the newest complete checkpoint folder.</summary>
    public const string LatestFile = "latest";

    /// <summary>The folder name of the checkpoint after <paramref name="step"/> steps.</summary>
    public static string FolderName(int step) => $"checkpoint-{step.ToString("D6", CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Writes a checkpoint of <paramref name="parameters"/>, <paramref name="optimizer"/> and
    /// <paramref name="state"/> under <paramref name="directory"/>, points <c>latest</c> at it and deletes all but
    /// the newest <paramref name="keep"/> checkpoints. Returns the checkpoint folder.
    /// </summary>
    public static string Save(string directory, IEnumerable<(string Name, Parameter Parameter)> parameters, Optimizer optimizer,
        TrainerState state, int keep = 2) => Save(directory, parameters, optimizer, state, keep, afterFile: null);

    /// <summary>As <see cref="Save(string, IEnumerable{ValueTuple{string, Parameter}}, Optimizer, TrainerState, int)"/>;
    /// <paramref name="afterFile"/> runs after each file is written (tests use it to interrupt a save).</summary>
    internal static string Save(string directory, IEnumerable<(string Name, Parameter Parameter)> parameters, Optimizer optimizer,
        TrainerState state, int keep, Action<string>? afterFile)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(state);
        Directory.CreateDirectory(directory);
        string name = FolderName(state.Step);
        string final = Path.Combine(directory, name);
        string temp = Path.Combine(directory, $".{name}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (n, p) in parameters) tensors[n] = p.Data;
            SafetensorsWriter.Save(Path.Combine(temp, ModelFile), tensors);
            afterFile?.Invoke(ModelFile);

            using (var dict = optimizer.StateDict())
            {
                var stateTensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                foreach (var (index, s) in dict.State)
                    foreach (var (stateName, t) in s.Tensors) stateTensors[$"{index}.{stateName}"] = t;
                SafetensorsWriter.Save(Path.Combine(temp, OptimizerFile), stateTensors);
            }
            afterFile?.Invoke(OptimizerFile);

            AtomicFile.Write(Path.Combine(temp, StateFile), s =>
            {
                using var w = new StreamWriter(s, leaveOpen: true);
                w.Write(state.ToJson());
            });
            afterFile?.Invoke(StateFile);

            string? old = null;
            if (Directory.Exists(final))
            {
                old = Path.Combine(directory, $".{name}.{Guid.NewGuid():N}.old");
                Directory.Move(final, old);
            }
            Directory.Move(temp, final);
            AtomicFile.Write(Path.Combine(directory, LatestFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(name)));
            if (old is not null) Directory.Delete(old, recursive: true);
        }
        catch
        {
            try { if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true); } catch (IOException) { }
            throw;
        }
        Prune(directory, keep, name);
        return final;
    }

    /// <summary>The newest complete checkpoint folder under <paramref name="directory"/>, or null when there is none.
    /// <paramref name="directory"/> may also be a checkpoint folder itself.</summary>
    public static string? FindLatest(string directory)
    {
        if (File.Exists(Path.Combine(directory, StateFile))) return directory;
        if (!Directory.Exists(directory)) return null;
        string pointer = Path.Combine(directory, LatestFile);
        if (File.Exists(pointer))
        {
            string named = Path.Combine(directory, File.ReadAllText(pointer).Trim());
            if (File.Exists(Path.Combine(named, StateFile))) return named;
        }
        return Complete(directory).LastOrDefault();
    }

    /// <summary>Reads the trainer state of a checkpoint folder.</summary>
    public static TrainerState ReadState(string checkpoint)
    {
        string path = Path.Combine(checkpoint, StateFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{checkpoint}' has no {StateFile}.", path);
        return TrainerState.Parse(File.ReadAllText(path), path);
    }

    /// <summary>
    /// Copies the saved parameters into <paramref name="module"/> (every saved key must exist there with the same
    /// shape and dtype) and the saved state into <paramref name="optimizer"/> (built over the same parameter
    /// groups). Returns the trainer state.
    /// </summary>
    public static TrainerState Load(string checkpoint, Module module, Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(optimizer);
        var state = ReadState(checkpoint);
        var device = ModelDevice.Of(module);   // a model moved to a GPU resumes there
        using (var file = SafetensorsFile.Open(Path.Combine(checkpoint, ModelFile)))
        {
            var tensors = file.LoadAll();
            if (!device.IsHost)
                foreach (var key in tensors.Keys.ToList())
                    using (var host = tensors[key]) tensors[key] = host.To(device);
            try
            {
                var result = module.LoadStateDict(tensors, strict: false);
                if (result.UnexpectedKeys.Count > 0)
                    throw new InvalidDataException($"Checkpoint '{checkpoint}': {ModelFile} has parameters the model lacks: {string.Join(", ", result.UnexpectedKeys.Take(10))}.");
                if (state.AllParameters && result.MissingKeys.Count > 0)
                    throw new InvalidDataException($"Checkpoint '{checkpoint}': {ModelFile} lacks parameters of the model: {string.Join(", ", result.MissingKeys.Take(10))}.");
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }
        using var dict = new OptimizerStateDict();
        foreach (var g in state.OptimizerGroups) dict.Groups.Add((g.Lr, g.WeightDecay, g.InitialLr, g.Params));
        using (var file = SafetensorsFile.Open(Path.Combine(checkpoint, OptimizerFile)))
        {
            foreach (var (index, step) in state.OptimizerParamSteps) dict.State[index] = new ParamState { Step = step };
            foreach (string key in file.Keys)
            {
                int dot = key.IndexOf('.');
                if (dot <= 0 || !int.TryParse(key.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out int index)
                    || !dict.State.TryGetValue(index, out var ps))
                    throw new InvalidDataException($"Checkpoint '{checkpoint}': {OptimizerFile} key '{key}' is not '<parameter index>.<state name>' of a parameter listed in {StateFile}.");
                using (var host = file.Load(key)) ps.Tensors[key[(dot + 1)..]] = host.To(device);   // the state lives with the parameters
            }
        }
        optimizer.LoadStateDict(dict);
        return state;
    }

    private static IEnumerable<string> Complete(string directory) =>
        Directory.GetDirectories(directory, "checkpoint-*")
            .Where(d => File.Exists(Path.Combine(d, StateFile)))
            .Order(StringComparer.Ordinal);

    private static void Prune(string directory, int keep, string newest)
    {
        var all = Complete(directory).ToList();
        foreach (var d in all.Take(Math.Max(0, all.Count - keep)))
            if (Path.GetFileName(d) != newest) Directory.Delete(d, recursive: true);
    }
}
