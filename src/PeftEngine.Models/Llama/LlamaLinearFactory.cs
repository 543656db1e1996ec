using PeftEngine.Nn;

namespace PeftEngine.Models;

/// <summary>
/// Builds the module that takes the place of the Linear layer at <paramref name="path"/> (its HF module path, e.g.
/// <c>model.layers.0.self_attn.q_proj</c>) while a LLaMA-family model is constructed, or returns null for an
/// ordinary randomly initialised <see cref="Linear"/>. A loader uses it to create packed quantized layers straight
/// from a file's blocks, so that no F32 copy of those weights is ever allocated.
/// </summary>
/// <remarks>PyTorch has no direct equivalent (transformers' quantizers replace nn.Linear modules while the model is
/// built on the meta device, which has the same effect).</remarks>
internal delegate Module? LlamaLinearFactory(string path, int inFeatures, int outFeatures, bool bias);

/// <summary>Helpers for <see cref="LlamaLinearFactory"/>.</summary>
internal static class LlamaLinears
{
    /// <summary>The factory's module for <paramref name="path"/>, or a new <see cref="Linear"/> when there is no
    /// factory or it declines.</summary>
    public static Module Create(LlamaLinearFactory? factory, string path, int inFeatures, int outFeatures, bool bias,
        DType dtype, Generator? generator) =>
        factory?.Invoke(path, inFeatures, outFeatures, bias) ?? new Linear(inFeatures, outFeatures, bias, dtype, generator);
}
