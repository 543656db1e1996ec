using PeftEngine.Nn;

namespace PeftEngine.Peft.Prompt;

/// <summary>The prompt encoders of a PEFT model by adapter name (the <c>prompt_encoder</c> child of the PeftModel).</summary>
/// <remarks>HF: PeftModel.prompt_encoder, a torch.nn.ModuleDict.</remarks>
public sealed class PromptEncoderDict : Module
{
    private readonly List<string> _names = new();

    /// <summary>Adds <paramref name="encoder"/> under <paramref name="adapter"/>.</summary>
    public void Add(string adapter, Module encoder)
    {
        RegisterModule(adapter, encoder);
        _names.Add(adapter);
    }

    /// <summary>Removes and disposes the encoder of <paramref name="adapter"/>.</summary>
    public void Remove(string adapter)
    {
        RemoveModule(adapter).Dispose();
        _names.Remove(adapter);
    }

    /// <summary>The encoder of <paramref name="adapter"/>.</summary>
    public Module this[string adapter] => GetChild(adapter);

    /// <summary>True when <paramref name="adapter"/> has an encoder here.</summary>
    public bool Contains(string adapter) => _names.Contains(adapter);

    /// <summary>The adapters with an encoder, in insertion order.</summary>
    public IReadOnlyList<string> Names => _names;
}
