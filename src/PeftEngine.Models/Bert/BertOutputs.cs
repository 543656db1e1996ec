namespace PeftEngine.Models;

/// <summary>What <see cref="BertModel.Forward(Tensor, Tensor?, Tensor?, bool)"/> returns: the last hidden state
/// (B, T, C) and the pooled output (B, C) when it was computed. Disposing it disposes both tensors.</summary>
/// <remarks>HF: transformers.modeling_outputs.BaseModelOutputWithPoolingAndCrossAttentions (last_hidden_state,
/// pooler_output).</remarks>
public sealed class BertOutputs : IDisposable
{
    private Tensor? _lastHiddenState;

    /// <summary>Wraps the two tensors; the new object owns them.</summary>
    public BertOutputs(Tensor lastHiddenState, Tensor? pooledOutput)
    {
        _lastHiddenState = lastHiddenState ?? throw new ArgumentNullException(nameof(lastHiddenState));
        PooledOutput = pooledOutput;
    }

    /// <summary>Hidden states of the last layer (B, T, C).</summary>
    public Tensor LastHiddenState => _lastHiddenState
        ?? throw new InvalidOperationException("BertOutputs: the last hidden state was taken by TakeLastHiddenState");

    /// <summary>tanh(dense(h[:, 0])) (B, C), or null without a pooler.</summary>
    public Tensor? PooledOutput { get; }

    /// <summary>Hands the last hidden state to the caller, who then owns and disposes it.</summary>
    public Tensor TakeLastHiddenState()
    {
        var t = LastHiddenState;
        _lastHiddenState = null;
        return t;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _lastHiddenState?.Dispose();
        _lastHiddenState = null;
        PooledOutput?.Dispose();
    }
}
