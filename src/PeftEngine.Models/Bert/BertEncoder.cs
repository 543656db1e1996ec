using PeftEngine.IO;
using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>The stack of <see cref="BertLayer"/>s, under the child list <c>layer</c> (paths <c>layer.0</c>, ...).</summary>
/// <remarks>HF: transformers.models.bert.modeling_bert.BertEncoder (child layer, an nn.ModuleList).</remarks>
public sealed class BertEncoder : Module, ILayerOutputHooks
{
    /// <summary>Creates num_hidden_layers layers.</summary>
    public BertEncoder(BertConfig config, DType dtype = DType.F32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var layers = RegisterModule("layer", new ModuleList());
        for (int i = 0; i < config.NumHiddenLayers; i++) layers.Add(new BertLayer(config, dtype, generator));
    }

    /// <summary>The layers in order.</summary>
    public ModuleList Layers => GetSubmodule<ModuleList>("layer");

    /// <inheritdoc/>
    public IList<LayerOutputHook> LayerOutputHooks { get; } = new List<LayerOutputHook>();

    /// <summary>x (B, T, C) -> (B, T, C) with no padding.</summary>
    public override Tensor Forward(Tensor x) => Forward(x, null);

    /// <summary>Runs every layer; x (B, T, C) -> (B, T, C).</summary>
    public Tensor Forward(Tensor x, Tensor? additiveMask)
    {
        Tensor? h = null;   // null: still the caller's x (never disposed here)
        int i = 0;
        foreach (var module in Layers)
        {
            var input = h ?? x;
            var next = module is BertLayer layer ? layer.Forward(input, additiveMask) : module.Forward(input);
            h?.Dispose();
            h = LayerHooks.Apply(LayerOutputHooks, i++, next, 0);
        }
        return h ?? Ops.View(x, x.Shape.ToArray());   // no layers: a view that keeps the gradient path
    }
}
