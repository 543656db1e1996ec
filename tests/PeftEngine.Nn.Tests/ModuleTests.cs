using PeftEngine.Nn;

namespace PeftEngine.Tests;

/// <summary>A small tree with HF-like names: model.layers.{0,1}.{self_attn.q_proj, mlp}, model.norm.</summary>
internal sealed class TinyModel : Module
{
    public TinyModel(int hidden = 4, DType dtype = DType.F32)
    {
        var g = new Generator(3);
        var inner = RegisterModule("model", new TinyInner(hidden, dtype, g));
        _ = inner;
        RegisterBuffer("position_ids", Tensor.FromArray(new long[] { 0, 1, 2 }, 3));
        RegisterBuffer("scratch", Tensor.Zeros(new Shape(2), dtype), persistent: false);
    }

    public override Tensor Forward(Tensor x) => GetChild("model").Forward(x);
}

internal sealed class TinyInner : Module
{
    public TinyInner(int hidden, DType dtype, Generator g)
    {
        RegisterModule("layers", new ModuleList(new TinyBlock(hidden, dtype, g), new TinyBlock(hidden, dtype, g)));
        RegisterModule("norm", new RmsNorm(hidden, dtype: dtype));
    }

    public override Tensor Forward(Tensor x)
    {
        Tensor? h = null;
        foreach (var layer in (ModuleList)GetChild("layers"))
        {
            var next = layer.Forward(h ?? x);
            h?.Dispose();
            h = next;
        }
        using (h) return GetChild("norm").Forward(h ?? x);
    }
}

internal sealed class TinyBlock : Module
{
    public TinyBlock(int hidden, DType dtype, Generator g)
    {
        RegisterModule("self_attn", new TinyAttn(hidden, dtype, g));
        RegisterModule("mlp", new Mlp(hidden, 2 * hidden, ActivationKind.Relu, dtype: dtype, generator: g));
    }

    public override Tensor Forward(Tensor x)
    {
        using var a = GetChild("self_attn").Forward(x);
        using var h = Ops.Add(x, a);
        using var m = GetChild("mlp").Forward(h);
        return Ops.Add(h, m);
    }
}

internal sealed class TinyAttn : Module
{
    public TinyAttn(int hidden, DType dtype, Generator g) =>
        RegisterModule("q_proj", new Linear(hidden, hidden, bias: false, dtype, g));

    public override Tensor Forward(Tensor x) => GetChild("q_proj").Forward(x);
}

/// <summary>Wraps a module and adds a constant: stands in for a PEFT adapter around a Linear.</summary>
internal sealed class PlusOne : Module
{
    public PlusOne(Module inner) => RegisterModule("base_layer", inner);

    public override Tensor Forward(Tensor x)
    {
        using var y = GetChild("base_layer").Forward(x);
        return Ops.Add(y, 1.0);
    }
}

public class ModuleTests
{
    [Fact]
    public void NamedParametersUseDottedHfPathsInRegistrationOrder()
    {
        using var m = new TinyModel();
        var names = m.NamedParameters().Select(p => p.Name).ToArray();
        Assert.Equal(new[]
        {
            "model.layers.0.self_attn.q_proj.weight",
            "model.layers.0.mlp.fc1.weight", "model.layers.0.mlp.fc1.bias",
            "model.layers.0.mlp.fc2.weight", "model.layers.0.mlp.fc2.bias",
            "model.layers.1.self_attn.q_proj.weight",
            "model.layers.1.mlp.fc1.weight", "model.layers.1.mlp.fc1.bias",
            "model.layers.1.mlp.fc2.weight", "model.layers.1.mlp.fc2.bias",
            "model.norm.weight",
        }, names);
        Assert.Equal(11, m.Parameters().Count());
        Assert.Equal(new[] { "position_ids", "scratch" }, m.NamedBuffers().Select(b => b.Name));
    }

    [Fact]
    public void NamedModulesStartWithTheRootAndGoDepthFirst()
    {
        using var m = new TinyModel();
        var names = m.NamedModules().Select(x => x.Name).Take(6).ToArray();
        Assert.Equal(new[] { "", "model", "model.layers", "model.layers.0", "model.layers.0.self_attn", "model.layers.0.self_attn.q_proj" }, names);
        Assert.IsType<Linear>(m.GetSubmodule("model.layers.1.self_attn.q_proj"));
        Assert.Same(m, m.GetSubmodule(""));
        var ex = Assert.Throws<KeyNotFoundException>(() => m.GetSubmodule("model.layers.7.mlp"));
        Assert.Contains("\"7\"", ex.Message);
    }

    [Fact]
    public void NumParametersCountsAllOrTrainable()
    {
        using var m = new TinyModel(hidden: 4);
        // per block: q 16 + fc1 (32 + 8) + fc2 (32 + 4) = 92; two blocks + norm 4 = 188
        Assert.Equal(188, m.NumParameters());
        m.RequiresGrad(false);
        Assert.Equal(0, m.NumParameters(trainableOnly: true));
        m.GetSubmodule("model.norm").RequiresGrad(true);
        Assert.Equal(4, m.NumParameters(trainableOnly: true));
    }

    [Fact]
    public void FrozenParametersGetNoGradient()
    {
        using var m = new TinyModel();
        m.RequiresGrad(false);
        var q = m.GetSubmodule<Linear>("model.layers.0.self_attn.q_proj");
        q.RequiresGrad(true);
        using var x = Tensor.Randn(new Shape(2, 4), new Generator(1));
        using (var y = m.Forward(x))
        using (var loss = Ops.Sum(y))
            loss.Backward();
        Assert.NotNull(q.Weight.Grad);
        Assert.All(m.NamedParameters().Where(p => !p.Name.Contains("layers.0.self_attn")), p => Assert.Null(p.Parameter.Grad));
        m.ZeroGrad();
        Assert.Null(q.Weight.Grad);
    }

    [Fact]
    public void TrainAndEvalReachEveryModule()
    {
        using var m = new TinyModel();
        Assert.All(m.NamedModules(), x => Assert.True(x.Module.IsTraining));
        m.Eval();
        Assert.All(m.NamedModules(), x => Assert.False(x.Module.IsTraining));
        m.Train();
        Assert.True(m.GetSubmodule("model.layers.1.mlp.fc2").IsTraining);
    }

    [Fact]
    public void StateDictRoundTripsIntoAFreshModel()
    {
        using var a = new TinyModel();
        using var b = new TinyModel();
        using (GradMode.Disable())
            foreach (var p in b.Parameters()) Ops.FillInPlace(p.Data, 0.25);
        using var sd = a.StateDict();
        // persistent buffers are included, non-persistent ones are not
        Assert.Contains("position_ids", sd.Keys);
        Assert.DoesNotContain("scratch", sd.Keys);
        Assert.Equal(12, sd.Count);
        var result = b.LoadStateDict(sd);
        Assert.Empty(result.MissingKeys);
        Assert.Empty(result.UnexpectedKeys);
        foreach (var ((na, pa), (nb, pb)) in a.NamedParameters().Zip(b.NamedParameters()))
        {
            Assert.Equal(na, nb);
            Assert.Equal(pa.Data.ToFloatArray(), pb.Data.ToFloatArray());
        }
        Assert.True(b.Parameters().All(p => p.RequiresGrad));
    }

    [Fact]
    public void StrictLoadReportsMissingAndUnexpectedKeysLikeTorch()
    {
        using var m = new TinyModel();
        using var sd = m.StateDict();
        sd.Remove("model.norm.weight")!.Dispose();
        sd.Add("model.lm_head.weight", Tensor.Zeros(new Shape(2, 2)));
        var ex = Assert.Throws<ArgumentException>(() => m.LoadStateDict(sd));
        Assert.Contains("Error(s) in loading state_dict for TinyModel", ex.Message);
        Assert.Contains("Missing key(s) in state_dict: \"model.norm.weight\"", ex.Message);
        Assert.Contains("Unexpected key(s) in state_dict: \"model.lm_head.weight\"", ex.Message);

        var result = m.LoadStateDict(sd, strict: false);
        Assert.Equal(new[] { "model.norm.weight" }, result.MissingKeys);
        Assert.Equal(new[] { "model.lm_head.weight" }, result.UnexpectedKeys);
    }

    [Fact]
    public void LoadChecksShapeAndDTypeNamingTheKey()
    {
        using var m = new TinyModel();
        using var sd = m.StateDict();
        sd.Remove("model.layers.1.mlp.fc1.weight")!.Dispose();
        sd.Add("model.layers.1.mlp.fc1.weight", Tensor.Zeros(new Shape(4, 8)));
        var ex = Assert.Throws<ArgumentException>(() => m.LoadStateDict(sd, strict: false));
        Assert.Contains("size mismatch for model.layers.1.mlp.fc1.weight", ex.Message);
        Assert.Contains("(4, 8)", ex.Message);

        using var sd2 = m.StateDict();
        sd2.Remove("model.norm.weight")!.Dispose();
        sd2.Add("model.norm.weight", Tensor.Ones(new Shape(4), DType.F64));
        var ex2 = Assert.Throws<ArgumentException>(() => m.LoadStateDict(sd2));
        Assert.Contains("dtype mismatch for model.norm.weight", ex2.Message);
    }

    [Fact]
    public void ReplaceSubmoduleTakesEffectInForward()
    {
        using var m = new TinyModel();
        using var x = Tensor.Randn(new Shape(3, 4), new Generator(2));
        using var before = m.Forward(x);
        var old = m.ReplaceSubmodule("model.layers.0.self_attn.q_proj", new Identity());
        Assert.IsType<Linear>(old);
        var wrapped = m.ReplaceSubmodule("model.layers.0.self_attn.q_proj", new PlusOne(old));
        Assert.IsType<Identity>(wrapped);
        wrapped.Dispose();
        Assert.Contains("model.layers.0.self_attn.q_proj.base_layer.weight", m.NamedParameters().Select(p => p.Name));
        using var after = m.Forward(x);
        Assert.NotEqual(before.ToFloatArray(), after.ToFloatArray());

        // Undo: put the original Linear back and the output returns.
        var adapter = m.ReplaceSubmodule("model.layers.0.self_attn.q_proj", old);
        using var restored = m.Forward(x);
        TestData.AssertClose(before, restored);
        Assert.Throws<KeyNotFoundException>(() => m.ReplaceSubmodule("model.layers.0.self_attn.k_proj", new Identity()));
    }

    [Fact]
    public void ApplyVisitsChildrenBeforeParents()
    {
        using var m = new TinyModel();
        var order = new List<string>();
        m.Apply(x => order.Add(x.GetType().Name));
        Assert.Equal("TinyModel", order[^1]);
        Assert.Equal("Linear", order[0]);
        Assert.Equal(m.NamedModules().Count(), order.Count);
    }

    [Fact]
    public void ToCastsFloatParametersAndBuffersKeepingRequiresGrad()
    {
        using var m = new TinyModel();
        m.GetSubmodule("model.norm").RequiresGrad(false);
        m.To(DType.F64);
        Assert.All(m.Parameters(), p => Assert.Equal(DType.F64, p.DType));
        Assert.Equal(DType.I64, m.NamedBuffers().First().Buffer.DType);
        Assert.Equal(DType.F64, m.NamedBuffers().Last().Buffer.DType);
        Assert.False(m.GetSubmodule<RmsNorm>("model.norm").Weight.RequiresGrad);
        Assert.True(m.GetSubmodule<Linear>("model.layers.0.self_attn.q_proj").Weight.RequiresGrad);
        using var x = Tensor.Randn(new Shape(2, 4), new Generator(1), DType.F64);
        using var y = m.Forward(x);
        Assert.Equal(DType.F64, y.DType);
    }

    [Fact]
    public void TiedParametersAreListedOnceButSavedUnderEachName()
    {
        using var m = new Tied();
        Assert.Single(m.Parameters());
        using var sd = m.StateDict();
        Assert.Equal(new[] { "embed.weight", "head.weight" }, sd.Keys);
    }

    [Fact]
    public void DisposeFreesParametersAndBuffers()
    {
        var m = new TinyModel();
        var tensors = m.Parameters().Select(p => p.Data).Concat(m.NamedBuffers().Select(b => b.Buffer)).ToList();
        m.Dispose();
        Assert.All(tensors, t => Assert.True(t.IsDisposed));
        m.Dispose();   // twice is harmless
    }

    [Fact]
    public void RegistrationRejectsDuplicateAndDottedNames()
    {
        Assert.Throws<ArgumentException>(() => new BadNames(dup: true));
        Assert.Throws<ArgumentException>(() => new BadNames(dup: false));
    }

    [Fact]
    public void ToStringPrintsTheTree()
    {
        using var m = new Mlp(4, 8);
        var s = m.ToString();
        Assert.Contains("(fc1): Linear(in_features=4, out_features=8, bias=True)", s);
    }

    private sealed class Identity : Module
    {
        public override Tensor Forward(Tensor x) => x.Alias();
    }

    private sealed class Tied : Module
    {
        public Tied()
        {
            var e = RegisterModule("embed", new Embedding(5, 3));
            RegisterModule("head", new TiedHead(e.Weight));
        }
    }

    private sealed class TiedHead : Module
    {
        public TiedHead(Parameter w) => RegisterParameter("weight", w);
    }

    private sealed class BadNames : Module
    {
        public BadNames(bool dup)
        {
            if (dup)
            {
                RegisterParameter("w", Tensor.Zeros(new Shape(1)));
                RegisterBuffer("w", Tensor.Zeros(new Shape(1)));
            }
            else RegisterModule("a.b", new Dropout());
        }
    }
}
