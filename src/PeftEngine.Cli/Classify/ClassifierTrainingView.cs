using PeftEngine.Models;
using PeftEngine.Nn;

namespace PeftEngine.Cli.Classify;

/// <summary>
/// A sequence classifier seen through the one door the <see cref="Models.Training.Trainer"/> trains through:
/// <see cref="ICausalLanguageModel.Module"/> (parameters, train mode, checkpoints) and
/// <see cref="ICausalLanguageModel.Loss"/>. The loss takes batches collated from
/// <see cref="ClassifierBatches.Examples"/>, whose labels (B, T) carry each text's class id at position 0, and returns
/// the classifier's cross-entropy; so a classification run gets the trainer's AdamW, schedule, clipping, Ctrl+C
/// checkpoints and exact resume without a second training loop. Decoding has no meaning for an encoder, so
/// <see cref="Forward"/> and <see cref="CreateCache"/> throw.
/// </summary>
/// <param name="module">The module whose parameters train (the PEFT-wrapped classifier).</param>
/// <param name="classifier">The classifier inside <paramref name="module"/>, adapted in place.</param>
internal sealed class ClassifierTrainingView(Module module, BertForSequenceClassification classifier) : ICausalLanguageModel
{
    /// <inheritdoc/>
    public Module Module => module;

    /// <summary>The number of classes (what a classifier's "vocabulary" is).</summary>
    public int VocabSize => classifier.NumLabels;

    /// <inheritdoc/>
    public int MaxPositions => classifier.Bert.Config.MaxPositionEmbeddings;

    /// <summary>Not available: an encoder classifier has no next-token logits.</summary>
    public Tensor Forward(Tensor ids, Tensor? attentionMask = null, ModelKvCache? cache = null) =>
        throw new NotSupportedException("ClassifierTrainingView: a sequence classifier has no next-token logits; use BertForSequenceClassification.Forward");

    /// <summary>Cross-entropy of the classifier on ids (B, T) against the class ids at position 0 of
    /// <paramref name="labels"/> (B, T).</summary>
    public Tensor Loss(Tensor ids, Tensor labels, Tensor? attentionMask = null)
    {
        using var classes = ClassifierBatches.ClassIds(labels);               // (B, T) -> (B)
        return classifier.Loss(ids, classes, attentionMask);
    }

    /// <summary>Not available: an encoder classifier does not decode.</summary>
    public ModelKvCache CreateCache(int batch, int maxLength) =>
        throw new NotSupportedException("ClassifierTrainingView: a sequence classifier does not decode, so it has no key/value cache");
}
