namespace PeftEngine.Peft.Tuners;

/// <summary>
/// A tuner layer that a method added as a new child of a base module instead of wrapping one (ReFT's interventions
/// beside a decoder layer). It has no base module: removing the adapter layer means removing the child.
/// </summary>
/// <remarks>HF: pyvene/pyreft keep interventions outside the base model and reach it through forward hooks; here
/// they live in the module tree so that parameters, requires-grad and the file keys follow the HF PEFT rules.</remarks>
public interface IAttachedTunerLayer : ITunerLayer
{
}
