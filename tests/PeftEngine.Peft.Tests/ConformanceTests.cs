using PeftEngine.Nn;
using PeftEngine.Peft;
using PeftEngine.Peft.Tuners;
using static PeftEngine.Tests.Harness;

namespace PeftEngine.Tests;

/// <summary>
/// HF PEFT's generic checks (testing_common.py / test_custom_models.py) run on every <see cref="PeftCases"/> entry.
/// Tolerances are HF's: merge 1e-4, disable 1e-6, idempotent merge 1e-6, mixed batches 1e-4 (we use 1e-5).
/// </summary>
public class ConformanceTests
{
    private static (Module Base, PeftModel Peft, Tensor X) Build(PeftCase c, bool nonIdentity, ulong seed = 0)
    {
        var model = c.Model(new Generator(42));
        model.Eval();
        var peft = PeftModel.Create(model, c.Config(nonIdentity), "default", new Generator(1000 + seed));
        return (model, peft, c.Input());
    }

    /// <summary>Merging a prompt-learning adapter throws NotSupportedException and leaves the output as it was.</summary>
    private static void AssertMergeRejected(PeftModel peft, Tensor x, double[] before)
    {
        var e = Assert.Throws<NotSupportedException>(() => peft.MergeAdapter());
        Assert.Contains("prompt-learning", e.Message);
        Assert.Throws<NotSupportedException>(() => peft.MergeAndUnload());
        TestData.AssertClose(before, Run(peft, x), 0, 0, "after a rejected merge");
    }

    [Theory, MemberData(nameof(PeftCases.Names), MemberType = typeof(PeftCases))]
    public void IdentityAtInit(string name)
    {
        var c = PeftCases.Get(name);
        using var reference = c.Model(new Generator(42));
        using var x = c.Input();
        var baseOut = Run(reference, x);
        var (_, peft, x2) = Build(c, nonIdentity: false);
        using (peft) using (x2)
        {
            var outp = Run(peft, x2);
            if (c.IdentityAtInit) TestData.AssertClose(baseOut, outp, 1e-6, 1e-6, "output at init");
            var (nonIdBase, nonId, x3) = Build(c, nonIdentity: true);
            using (nonId) using (x3) AssertDiffers(baseOut, Run(nonId, x3), 1e-6, "non-identity init");
        }
    }

    [Theory, MemberData(nameof(PeftCases.Names), MemberType = typeof(PeftCases))]
    public void OnlyAdapterParametersRequireGradAndChange(string name)
    {
        var c = PeftCases.Get(name);
        var (_, peft, x) = Build(c, nonIdentity: false);
        using (peft) using (x)
        {
            foreach (var (n, p) in peft.NamedParameters())
                Assert.True(p.RequiresGrad == c.IsAdapterParameter(n), $"{n}: requires_grad = {p.RequiresGrad}");
            Assert.All(peft.Parameters().Where(p => p.RequiresGrad), p => Assert.Equal(DType.F32, p.DType));
            var before = Snapshot(peft);
            var outBefore = Run(peft, x);
            Train(peft, x);
            var after = Snapshot(peft);
            AssertDiffers(outBefore, Run(peft, x), 1e-6, "output after training");
            foreach (var (n, p) in peft.NamedParameters())
            {
                if (p.RequiresGrad)
                {
                    // lora_A of a zero-B adapter gets no gradient in the first step but does afterwards; the
                    // DoRA magnitude and every factor must move
                    Assert.True(before[n].Zip(after[n]).Any(t => t.First != t.Second), $"{n}: trainable but unchanged");
                }
                else Assert.True(before[n].SequenceEqual(after[n]), $"{n}: frozen but changed");
            }
        }
    }

    [Theory, MemberData(nameof(PeftCases.Names), MemberType = typeof(PeftCases))]
    public void DisableAdapterGivesTheBaseOutput(string name)
    {
        var c = PeftCases.Get(name);
        using var reference = c.Model(new Generator(42));
        using var x = c.Input();
        var baseOut = Run(reference, x);
        var (_, peft, _) = Build(c, nonIdentity: true);
        using (peft)
        {
            var peftOut = Run(peft, x);
            AssertDiffers(baseOut, peftOut, 1e-6, "adapter output");
            using (peft.DisableAdapter())
                TestData.AssertClose(baseOut, Run(peft, x), 1e-6, 1e-6, "disabled");
            TestData.AssertClose(peftOut, Run(peft, x), 0, 0, "re-enabled");
        }
    }

    [Theory, MemberData(nameof(PeftCases.Names), MemberType = typeof(PeftCases))]
    public void MergeUnmergeAndMergeAndUnloadAgree(string name)
    {
        var c = PeftCases.Get(name);
        using var reference = c.Model(new Generator(42));
        using var x = c.Input();
        var baseOut = Run(reference, x);
        var baseWeights = Snapshot(reference);
        var (model, peft, _) = Build(c, nonIdentity: true);
        var unmerged = Run(peft, x);
        if (c.PromptLearning)
        {
            // virtual tokens / a prefix cannot be folded into weights: a clear error, nothing changed
            using (peft) AssertMergeRejected(peft, x, unmerged);
            return;
        }
        if (!c.Mergeable)
        {
            AssertMergeIsRefused(c, peft, x, unmerged);
            using var plain = peft.Unload();
            Assert.Same(model, plain);
            Assert.DoesNotContain(plain.NamedModules(), nm => nm.Module is ITunerLayer);
            Assert.Equal(reference.StateDict().Keys.Order(), plain.StateDict().Keys.Order());
            TestData.AssertClose(baseOut, Run(plain, x), 0, 0, "unload of a non-mergeable adapter");
            return;
        }
        peft.MergeAdapter();
        var merged = Run(peft, x);
        TestData.AssertClose(unmerged, merged, c.MergeTolerance, c.MergeTolerance, "merged");
        AssertDiffers(baseOut, merged, 1e-6, "merged vs base");
        peft.UnmergeAdapter();
        TestData.AssertClose(unmerged, Run(peft, x), c.MergeTolerance, c.MergeTolerance, "unmerged again");
        // unmerge restores every base weight up to float rounding of (W + ΔW) − ΔW: |error| ≤ 4 ulp of max(|W|, |ΔW|)
        foreach (var (n, p) in peft.Model.NamedParameters().Where(np => !np.Parameter.RequiresGrad))
        {
            string baseName = n.Replace(".base_layer", "").Replace(".original_module", "");
            if (!baseWeights.TryGetValue(baseName, out var original)) continue;
            var now = p.Data.ToFloatArray();
            for (int i = 0; i < now.Length; i++)
                Assert.True(Math.Abs(now[i] - original[i]) <= 4 * 1.2e-7 * Math.Max(1, Math.Abs(original[i])) * 4,
                    $"{baseName}[{i}]: {original[i]:R} became {now[i]:R} after unmerge");
        }
        using var unloaded = peft.MergeAndUnload();
        Assert.Same(model, unloaded);
        Assert.DoesNotContain(unloaded.NamedModules(), nm => nm.Module is ITunerLayer);
        Assert.Equal(reference.StateDict().Keys.Order(), unloaded.StateDict().Keys.Order());
        TestData.AssertClose(unmerged, Run(unloaded, x), c.MergeTolerance, c.MergeTolerance, "merge_and_unload");
    }

    /// <summary>A method that cannot be merged: merge, safe merge and merge_and_unload raise NotSupportedException
    /// naming the method and change nothing.</summary>
    private static void AssertMergeIsRefused(PeftCase c, PeftModel peft, Tensor x, double[] expected)
    {
        string method = c.Config(false).PeftType;
        var e = Assert.Throws<NotSupportedException>(() => peft.MergeAdapter());
        Assert.Contains(method, e.Message);
        Assert.Contains(method, Assert.Throws<NotSupportedException>(() => peft.MergeAdapter(safeMerge: true)).Message);
        Assert.Contains(method, Assert.Throws<NotSupportedException>(() => peft.MergeAndUnload()).Message);
        Assert.All(peft.TunerLayers(), l => Assert.Empty(l.Layer.MergedAdapters));
        TestData.AssertClose(expected, Run(peft, x), 0, 0, "after a refused merge");
    }

    [Theory, MemberData(nameof(PeftCases.Names), MemberType = typeof(PeftCases))]
    public void MergingTwiceIsIdempotent(string name)
    {
        var c = PeftCases.Get(name);
        var (_, peft, x) = Build(c, nonIdentity: true);
        using (peft) using (x)
        {
            if (c.PromptLearning)
            {
                AssertMergeRejected(peft, x, Run(peft, x));
                return;
            }
            if (!c.Mergeable)
            {
                AssertMergeIsRefused(c, peft, x, Run(peft, x));
                return;
            }
            peft.MergeAdapter();
            var once = Run(peft, x);
            using var capture = PeftWarnings.Capture();
            peft.MergeAdapter();
            Assert.Contains("All adapters are already merged, nothing to do.", capture.Messages);
            TestData.AssertClose(once, Run(peft, x), 1e-6, 1e-6, "merged twice");
        }
    }

    [Theory, MemberData(nameof(PeftCases.Names), MemberType = typeof(PeftCases))]
    public void SafeMergeRejectsNaNAndLeavesTheBaseUntouched(string name)
    {
        var c = PeftCases.Get(name);
        var (model, peft, x) = Build(c, nonIdentity: true);
        using (peft) using (x)
        {
            var before = Run(peft, x);
            if (c.PromptLearning)
            {
                Assert.Throws<NotSupportedException>(() => peft.MergeAndUnload(safeMerge: true));
                TestData.AssertClose(before, Run(peft, x), 0, 0, "after a rejected safe merge");
                return;
            }
            if (!c.Mergeable)
            {
                AssertMergeIsRefused(c, peft, x, before);
                return;
            }
            var baseBefore = Snapshot(peft);
            var lora = peft.NamedParameters().Last(np => PeftCases.IsMethodParameter(np.Name)).Parameter;
            float saved;
            using (GradMode.Disable())
            {
                saved = lora.Data.ToFloatArray()[0];
                using var first = Ops.Narrow(Ops.Flatten(lora.Data, 0, -1), 0, 0, 1);
                Ops.FillInPlace(first, double.NaN);
            }
            var e = Assert.Throws<ArgumentException>(() => peft.MergeAndUnload(safeMerge: true));
            Assert.Contains("NaNs detected in the merged weights. The adapter default seems to be broken", e.Message);
            foreach (var (n, p) in peft.NamedParameters().Where(np => !PeftCases.IsMethodParameter(np.Name)))
                Assert.True(baseBefore[n].SequenceEqual(p.Data.To(DType.F32).ToFloatArray()), $"{n} changed by a rejected safe merge");
            Assert.Contains(peft.Model.NamedModules(), nm => nm.Module is ITunerLayer);
            using (GradMode.Disable())
            using (var first = Ops.Narrow(Ops.Flatten(lora.Data, 0, -1), 0, 0, 1))
                Ops.FillInPlace(first, saved);
            peft.MergeAdapter(safeMerge: true);
            TestData.AssertClose(before, Run(peft, x), 1e-3, 1e-3, "healthy safe merge");
        }
    }

    [Theory, MemberData(nameof(PeftCases.Names), MemberType = typeof(PeftCases))]
    public void SaveLoadRoundTripUnderAnyAdapterName(string name)
    {
        var c = PeftCases.Get(name);
        var dir = TempDir();
        try
        {
            var (_, peft, x) = Build(c, nonIdentity: true);
            double[] expected, expectedOther;
            using (peft) using (x)
            {
                peft.AddAdapter("other", c.Config(true), new Generator(77));
                expected = Run(peft, x);
                peft.SetAdapter("other");
                expectedOther = Run(peft, x);
                peft.SavePretrained(dir);
            }
            Assert.True(File.Exists(Path.Combine(dir, "adapter_config.json")));
            Assert.True(File.Exists(Path.Combine(dir, "adapter_model.safetensors")));
            Assert.True(File.Exists(Path.Combine(dir, "other", "adapter_model.safetensors")));
            Assert.False(File.Exists(Path.Combine(dir, "config.json")));
            using (var f = PeftEngine.IO.Safetensors.SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors")))
                if (c.PromptLearning) Assert.Equal(["prompt_embeddings"], f.Keys);   // HF: one top-level key, no prefix
                else Assert.All(f.Keys, k =>
                {
                    Assert.StartsWith("base_model.model.", k);
                    Assert.DoesNotContain(".default", k);
                });

            using var x2 = c.Input();
            var fresh = c.Model(new Generator(42));
            using var loaded = PeftModel.FromPretrained(fresh, dir, "some-name");
            TestData.AssertClose(expected, Run(loaded, x2), 0, 0, "reloaded default");
            loaded.LoadAdapter(Path.Combine(dir, "other"), "x");
            loaded.SetAdapter("x");
            TestData.AssertClose(expectedOther, Run(loaded, x2), 0, 0, "reloaded other");
            Assert.All(loaded.Parameters(), p => Assert.False(p.RequiresGrad));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory, MemberData(nameof(PeftCases.Names), MemberType = typeof(PeftCases))]
    public void MultipleAdaptersSwitchAndDelete(string name)
    {
        var c = PeftCases.Get(name);
        using var reference = c.Model(new Generator(42));
        using var x = c.Input();
        var baseOut = Run(reference, x);
        var (_, peft, _) = Build(c, nonIdentity: true);
        using (peft)
        {
            var first = Run(peft, x);
            int paramsWithOne = peft.NamedParameters().Count();
            peft.AddAdapter("adapter-2", c.Config(true), new Generator(5));
            Assert.Equal(["default"], peft.ActiveAdapters);
            TestData.AssertClose(first, Run(peft, x), 0, 0, "inactive second adapter");
            peft.SetAdapter("adapter-2");
            var second = Run(peft, x);
            AssertDiffers(first, second, 1e-6, "second adapter");
            Assert.All(peft.NamedParameters().Where(np => np.Name.Contains(".default")), np => Assert.False(np.Parameter.RequiresGrad));
            peft.SetAdapter("default");
            TestData.AssertClose(first, Run(peft, x), 0, 0, "switched back");
            var e = Assert.Throws<ArgumentException>(() => peft.DeleteAdapter("unknown-adapter"));
            Assert.Equal("Adapter unknown-adapter does not exist", e.Message);
            peft.DeleteAdapter("adapter-2");
            Assert.DoesNotContain(peft.NamedParameters(), np => np.Name.Contains("adapter-2"));
            Assert.Equal(paramsWithOne, peft.NamedParameters().Count());
            Assert.Equal(["default"], peft.ActiveAdapters);
            peft.DeleteAdapter("default");
            Assert.Empty(peft.ActiveAdapters);
            Assert.DoesNotContain(peft.Model.NamedModules(), nm => nm.Module is ITunerLayer);
            TestData.AssertClose(baseOut, Run(peft, x), 0, 0, "every adapter deleted");
        }
    }

    [Theory, MemberData(nameof(PeftCases.Names), MemberType = typeof(PeftCases))]
    public void MixedBatchEqualsPerAdapterRuns(string name)
    {
        var c = PeftCases.Get(name);
        var (_, peft, x1) = Build(c, nonIdentity: true);
        using (peft) using (x1)
        {
            peft.AddAdapter("adapter1", c.Config(true), new Generator(9));
            using var x = Ops.Cat([x1, x1, x1], 0);                 // (B, ...) -> (3B, ...)
            int b = x1.Shape[0];
            var names = Enumerable.Range(0, 3 * b).Select(i => (i / b) switch { 0 => "__base__", 1 => "default", _ => "adapter1" }).ToList();
            peft.Eval();
            if (!c.MixedBatches)
            {
                // DoRA: NotSupportedException; an embedding fed positions: ArgumentException naming the batch
                var error = Assert.ThrowsAny<Exception>(() => peft.Forward(x, names));
                Assert.True(error is NotSupportedException or ArgumentException, error.ToString());
                return;
            }
            double[] mixed;
            using (GradMode.Disable()) using (var y = peft.Forward(x, names)) mixed = y.ToDoubleArray();
            double[] baseOut;
            using (peft.DisableAdapter()) baseOut = Run(peft, x1);
            var a0 = Run(peft, x1);
            peft.SetAdapter("adapter1");
            var a1 = Run(peft, x1);
            int per = mixed.Length / 3;
            TestData.AssertClose(baseOut, mixed[..per], 1e-5, 1e-5, "__base__ rows");
            TestData.AssertClose(a0, mixed[per..(2 * per)], 1e-5, 1e-5, "default rows");
            TestData.AssertClose(a1, mixed[(2 * per)..], 1e-5, 1e-5, "adapter1 rows");
            AssertDiffers(baseOut, a0, 1e-6, "base vs default");
            AssertDiffers(a0, a1, 1e-6, "default vs adapter1");
            peft.Train();
            Assert.Throws<InvalidOperationException>(() => peft.Forward(x, names));
            peft.Eval();
            Assert.Throws<ArgumentException>(() => peft.Forward(x, names.Select(n => n == "adapter1" ? "nope" : n).ToList()));
        }
    }

    [Theory, MemberData(nameof(PeftCases.Names), MemberType = typeof(PeftCases))]
    public void AdaptersAreF32OnABf16Base(string name)
    {
        var c = PeftCases.Get(name);
        var model = c.Model(new Generator(42));
        model.To(DType.BF16);
        using var peft = PeftModel.Create(model, c.Config(true), "default", new Generator(3));
        foreach (var (n, p) in peft.NamedParameters())
            Assert.Equal(c.IsAdapterParameter(n) ? DType.F32 : DType.BF16, p.DType);
        if (c.PromptLearning)
        {
            Assert.Throws<NotSupportedException>(() => peft.MergeAdapter());
            return;
        }
        if (!c.Mergeable) return;   // nothing to merge
        // merging into a bf16 weight computes in f32 and rounds once; unmerging rounds again, so each element comes
        // back to within one bf16 rounding of the merged value carried back through the unmerge (|W + ΔW| for an
        // additive update, |W'|/|l| = |W| for IA3's scaling) plus one of |W| (2^-8 relative each)
        // every wrapped base parameter (the weight for LoRA / IA3, the bias for BitFit, γ and β for LN tuning)
        var wrapped = peft.Model.NamedParameters().Where(np => np.Name.Contains("base_layer.")).ToList();
        var before = wrapped.Select(np => np.Parameter.Data.ToFloatArray()).ToList();
        peft.MergeAdapter();
        var merged = wrapped.Select(np => np.Parameter.Data.ToFloatArray()).ToList();
        peft.UnmergeAdapter();
        var after = wrapped.Select(np => np.Parameter.Data.ToFloatArray()).ToList();
        Assert.Contains(Enumerable.Range(0, wrapped.Count), k => !before[k].SequenceEqual(merged[k]));
        for (int k = 0; k < wrapped.Count; k++)
            for (int i = 0; i < before[k].Length; i++)
                Assert.True(Math.Abs(before[k][i] - after[k][i]) <= Math.Pow(2, -8) * (Math.Abs(merged[k][i]) + 2 * Math.Abs(before[k][i])) + 1e-30,
                    $"bf16 {wrapped[k].Name}[{i}] {before[k][i]} -> {merged[k][i]} -> {after[k][i]}");
    }
}
