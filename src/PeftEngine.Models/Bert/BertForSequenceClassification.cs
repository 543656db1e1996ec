using System.Text.Json;
using PeftEngine.IO;
using PeftEngine.IO.Safetensors;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// BERT with a classification head: the pooled output (tanh of the [CLS] state) goes through dropout and a
/// Linear <c>classifier</c> (C -> num_labels). Parameter names are HF's: the encoder under <c>bert.</c>
/// (<c>bert.encoder.layer.0.attention.self.query.weight</c>) and <c>classifier.weight</c> / <c>classifier.bias</c>.
/// </summary>
/// <remarks>HF: transformers.BertForSequenceClassification (children bert, dropout, classifier). The dropout
/// probability is classifier_dropout, or hidden_dropout_prob when that is null. The loss follows HF's
/// problem_type inference: one label is regression (MSE), more are single-label classification (cross-entropy).</remarks>
public sealed class BertForSequenceClassification : Module
{
    /// <summary>Creates a randomly initialised model in training mode.</summary>
    public BertForSequenceClassification(BertConfig config, int numLabels, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (numLabels <= 0) throw new ArgumentOutOfRangeException(nameof(numLabels), $"BertForSequenceClassification: num_labels must be positive, got {numLabels}");
        NumLabels = numLabels;
        RegisterModule("bert", new BertModel(config, addPoolingLayer: true, dtype, generator));
        RegisterModule("dropout", new Dropout(config.ClassifierDropout ?? config.HiddenDropoutProb, generator));
        RegisterModule("classifier", BertModel.NewLinear(config.HiddenSize, numLabels, dtype, generator));
    }

    /// <summary>Number of classes (1: regression).</summary>
    public int NumLabels { get; }

    /// <summary>The encoder.</summary>
    public BertModel Bert => GetSubmodule<BertModel>("bert");

    /// <summary>Parameters the checkpoint did not have and that kept their random initialisation (the head,
    /// when loading an encoder-only checkpoint).</summary>
    public IReadOnlyList<string> NewlyInitialized { get; private set; } = [];

    /// <summary>ids (B, T) I64 -> logits (B, num_labels).</summary>
    public override Tensor Forward(Tensor ids) => Forward(ids, null);

    /// <summary>ids (B, T) I64 with optional attention mask (B, T) and token types (B, T) -> logits (B, num_labels).</summary>
    /// <remarks>HF: BertForSequenceClassification(input_ids, attention_mask, token_type_ids).logits.</remarks>
    public Tensor Forward(Tensor ids, Tensor? attentionMask, Tensor? tokenTypeIds = null)
    {
        using var outputs = Bert.Forward(ids, attentionMask, tokenTypeIds);
        using var dropped = GetChild("dropout").Forward(outputs.PooledOutput!);   // (B, C)
        return GetChild("classifier").Forward(dropped);                          // (B, C) -> (B, num_labels)
    }

    /// <summary>The mean loss of a batch: cross-entropy against class <paramref name="labels"/> (B) I64, or, with a
    /// single label, the mean squared error against float targets (B).</summary>
    /// <remarks>HF: BertForSequenceClassification(..., labels=labels).loss.</remarks>
    public Tensor Loss(Tensor ids, Tensor labels, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Rank != 1 || labels.Shape[0] != ids.Shape[0])
            throw new ArgumentException($"BertForSequenceClassification.Loss: labels must be ({ids.Shape[0]}), got {labels.Shape}");
        using var logits = Forward(ids, attentionMask, tokenTypeIds);
        if (NumLabels == 1)
        {
            using var squeezed = Ops.Reshape(logits, ids.Shape[0]);               // (B, 1) -> (B)
            using var target = Ops.Cast(labels, logits.DType);
            return Ops.MseLoss(squeezed, target);
        }
        if (labels.DType != DType.I64)
            throw new ArgumentException($"BertForSequenceClassification.Loss: class labels must be i64, got {labels.DType.Name()}");
        return Ops.CrossEntropy(logits, labels);
    }

    /// <summary>
    /// Loads a folder with <c>config.json</c> and safetensors weights. The number of labels comes from
    /// <paramref name="numLabels"/>, else the config's <c>id2label</c> or <c>num_labels</c>, else 2 (HF's default).
    /// Keys with or without the <c>bert.</c> prefix are accepted; a checkpoint without a classifier (a bare encoder)
    /// leaves the head randomly initialised and lists it in <see cref="NewlyInitialized"/>. Evaluation mode.
    /// </summary>
    /// <remarks>HF: BertForSequenceClassification.from_pretrained(path, num_labels=n).</remarks>
    public static BertForSequenceClassification FromPretrained(string directory, int? numLabels = null, DType dtype = DType.F32, Generator? generator = null)
    {
        const string who = "BertForSequenceClassification.FromPretrained";
        var (config, configPath) = BertWeights.LoadConfig(directory, who);
        int labels = numLabels ?? LabelsInConfig(configPath) ?? 2;
        using var source = ShardedSafetensors.OpenDirectory(directory);
        var model = new BertForSequenceClassification(config, labels, dtype, generator);
        try
        {
            var missing = BertWeights.Load(model, source, BertWeights.WeightsName(directory), dtype, who,
                name => name.StartsWith("classifier.", StringComparison.Ordinal));
            model.NewlyInitialized = missing;
            model.Eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static int? LabelsInConfig(string configPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(configPath));
        var root = doc.RootElement;
        if (root.TryGetProperty("id2label", out var map) && map.ValueKind == JsonValueKind.Object)
            return map.EnumerateObject().Count();
        if (root.TryGetProperty("num_labels", out var n) && n.ValueKind == JsonValueKind.Number)
            return n.GetInt32();
        return null;
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"num_labels={NumLabels}";
}
