using PeftEngine.IO.Safetensors;

namespace PeftEngine.Models;

public sealed partial class BertModel
{
    /// <summary>
    /// Loads a BERT checkpoint folder: <c>config.json</c> (model_type bert; layer_norm_eps, hidden_act etc. are
    /// taken from it) plus <c>model.safetensors</c> (or a sharded checkpoint with its index). Keys may carry the
    /// <c>bert.</c> prefix (<c>bert.encoder.layer.0...</c>, as task checkpoints store them) or not; a classifier or
    /// pretraining head in the file is ignored. A checkpoint without pooler weights gives a model without a
    /// pooler. Weights are cast to <paramref name="dtype"/>; the model is returned in evaluation mode.
    /// </summary>
    /// <remarks>HF: BertModel.from_pretrained(path). Errors name the file and tensor.</remarks>
    public static BertModel FromPretrained(string directory, DType dtype = DType.F32)
    {
        const string who = "BertModel.FromPretrained";
        var (config, _) = BertWeights.LoadConfig(directory, who);
        string file = BertWeights.WeightsName(directory);
        using var source = ShardedSafetensors.OpenDirectory(directory);
        bool hasPooler = source.Contains("pooler.dense.weight") || source.Contains(BertWeights.Prefix + "pooler.dense.weight");
        var model = new BertModel(config, hasPooler, dtype);
        try
        {
            BertWeights.Load(model, new HeadlessSource(source), file, dtype, who, _ => false);
            model.Eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>A view of a checkpoint without the task head (<c>classifier.*</c>), for loading the bare encoder
    /// from a sequence-classification checkpoint.</summary>
    private sealed class HeadlessSource(ITensorSource inner) : ITensorSource
    {
        public IEnumerable<string> Keys => inner.Keys.Where(k => !k.StartsWith("classifier.", StringComparison.Ordinal));

        public bool Contains(string name) => !name.StartsWith("classifier.", StringComparison.Ordinal) && inner.Contains(name);

        public SafetensorsTensorInfo Info(string name) => inner.Info(name);

        public Tensor Load(string name, DType? convertTo = null) => inner.Load(name, convertTo);

        public void Dispose() { }
    }
}
