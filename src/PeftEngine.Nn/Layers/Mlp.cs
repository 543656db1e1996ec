namespace PeftEngine.Nn;

/// <summary>A two-layer feed-forward block: fc2(act(fc1(x))), hidden → intermediate → hidden.</summary>
/// <remarks>HF: the MLP of OPT / Phi / CLIP (children fc1 and fc2). The children are typed
/// <see cref="Module"/> because an adapter may replace them.</remarks>
public sealed class Mlp : Module
{
    /// <summary>Creates the block.</summary>
    public Mlp(int hidden, int intermediate, ActivationKind activation = ActivationKind.Gelu, bool bias = true,
        DType dtype = DType.F32, Generator? generator = null)
    {
        ActivationKind = activation;
        RegisterModule("fc1", new Linear(hidden, intermediate, bias, dtype, generator));
        RegisterModule("fc2", new Linear(intermediate, hidden, bias, dtype, generator));
    }

    /// <summary>The nonlinearity between the layers.</summary>
    public ActivationKind ActivationKind { get; }

    /// <summary>hidden -> intermediate.</summary>
    public Module Fc1 => GetChild("fc1");

    /// <summary>intermediate -> hidden.</summary>
    public Module Fc2 => GetChild("fc2");

    /// <summary>(…, hidden) -> (…, hidden).</summary>
    public override Tensor Forward(Tensor x)
    {
        using var h = Fc1.Forward(x);
        using var a = Activation.Apply(ActivationKind, h);
        return Fc2.Forward(a);
    }
}

/// <summary>The gated feed-forward block of Llama / Mistral / Qwen (SwiGLU):
/// down_proj(act(gate_proj(x)) * up_proj(x)).</summary>
/// <remarks>HF: LlamaMLP (no biases, act = silu). Shazeer 2020, "GLU Variants Improve Transformer".</remarks>
public sealed class GatedMlp : Module
{
    /// <summary>Creates the block.</summary>
    public GatedMlp(int hidden, int intermediate, ActivationKind activation = ActivationKind.Silu, bool bias = false,
        DType dtype = DType.F32, Generator? generator = null)
    {
        ActivationKind = activation;
        RegisterModule("gate_proj", new Linear(hidden, intermediate, bias, dtype, generator));
        RegisterModule("up_proj", new Linear(hidden, intermediate, bias, dtype, generator));
        RegisterModule("down_proj", new Linear(intermediate, hidden, bias, dtype, generator));
    }

    /// <summary>Creates the block around given projections (e.g. quantized layers built straight from a file), which
    /// it takes ownership of.</summary>
    public GatedMlp(Module gateProj, Module upProj, Module downProj, ActivationKind activation = ActivationKind.Silu)
    {
        ArgumentNullException.ThrowIfNull(gateProj);
        ArgumentNullException.ThrowIfNull(upProj);
        ArgumentNullException.ThrowIfNull(downProj);
        ActivationKind = activation;
        RegisterModule("gate_proj", gateProj);
        RegisterModule("up_proj", upProj);
        RegisterModule("down_proj", downProj);
    }

    /// <summary>The nonlinearity applied to the gate.</summary>
    public ActivationKind ActivationKind { get; }

    /// <summary>hidden -> intermediate, through the activation.</summary>
    public Module GateProj => GetChild("gate_proj");

    /// <summary>hidden -> intermediate, linear.</summary>
    public Module UpProj => GetChild("up_proj");

    /// <summary>intermediate -> hidden.</summary>
    public Module DownProj => GetChild("down_proj");

    /// <summary>(…, hidden) -> (…, hidden).</summary>
    public override Tensor Forward(Tensor x)
    {
        using var g = GateProj.Forward(x);
        using var a = Activation.Apply(ActivationKind, g);
        using var u = UpProj.Forward(x);
        using var h = Ops.Mul(a, u);
        return DownProj.Forward(h);
    }
}
