using System.Text.RegularExpressions;
using PeftEngine.Nn;

namespace PeftEngine.Peft.Tuners;

/// <summary>
/// Decides which module paths a <see cref="TunerConfig"/> adapts, with HF PEFT's exact rules: a name in a list
/// matches a path equal to it or ending in "." + it; a regex must match the whole path; exclusions win;
/// <c>layers_to_transform</c> filters suffix matches by the layer index found in the path.
/// </summary>
/// <remarks>HF: peft.tuners.tuners_utils.check_target_module_exists, _check_exclude_modules and
/// _maybe_include_all_linear_layers.</remarks>
public static class TargetMatcher
{
    /// <summary>True when the module at <paramref name="key"/> is excluded by <paramref name="exclude"/>.</summary>
    public static bool IsExcluded(TargetModules? exclude, string key)
    {
        if (exclude is null) return false;
        if (exclude.Names is null) return FullMatch(exclude.Pattern!, key);
        return exclude.Names.Any(e => key == e || key.EndsWith("." + e, StringComparison.Ordinal));
    }

    /// <summary>True when <paramref name="key"/> is a target of <paramref name="config"/> (exclusions not applied).</summary>
    public static bool IsTarget(TunerConfig config, string key)
    {
        var targets = config.TargetModules ?? throw new ArgumentException("target_modules is not set");
        if (targets.Names is null) return FullMatch(targets.Pattern!, key);
        if (targets.Names.Contains(key)) return true;
        bool found = targets.Names.Any(t => key.EndsWith("." + t, StringComparison.Ordinal));
        if (!found || config.LayersToTransform is not { Length: > 0 } layers) return found;
        Match? m = null;
        if (config.LayersPattern is not { Length: > 0 } patterns)
            m = Regex.Match(key, @"^.*\.[^.]*\.(\d+)\.");
        else
            foreach (var p in patterns)
            {
                m = Regex.Match(key, @"^.*\." + p + @"\.(\d+)\.");
                if (m.Success) break;
            }
        return m is { Success: true } && layers.Contains(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The regex must match all of <paramref name="key"/>.</summary>
    public static bool FullMatch(string pattern, string key) => Regex.IsMatch(key, @"\A(?:" + pattern + @")\z");

    /// <summary>True for the layer types all-linear expands to.</summary>
    public static bool IsLinearLayer(Module m) => m is Linear or Conv1D or Quant.IQuantizedLinear;

    /// <summary>
    /// The paths all-linear stands for in <paramref name="model"/>: every <see cref="Linear"/> / <see cref="Conv1D"/>
    /// except the output head, which is the root child <c>lm_head</c> or, for a language model, the last linear layer
    /// whose output size is the vocabulary, and except layers inside an existing adapter.
    /// </summary>
    public static List<string> ExpandAllLinear(Module model, int? vocabSize)
    {
        var linear = new List<string>();
        var insideAdapters = new List<string>();
        foreach (var (name, m) in model.NamedModules())
        {
            if (insideAdapters.Any(p => name.StartsWith(p, StringComparison.Ordinal))) continue;
            if (m is ITunerLayer t && name.Length > 0)
            {
                insideAdapters.Add(name + ".");
                if (IsLinearLayer(t.BaseLayer)) linear.Add(name);
            }
            else if (IsLinearLayer(m)) linear.Add(name);
        }
        linear.Remove("lm_head");
        if (vocabSize is int v)
        {
            var head = linear.LastOrDefault(n => (model.GetSubmodule(n) is ITunerLayer t ? t.BaseLayer : model.GetSubmodule(n)) is Linear l && l.OutFeatures == v);
            if (head is not null) linear.Remove(head);
        }
        return linear;
    }

    /// <summary>The index in <paramref name="patterns"/> of the first key that matches <paramref name="moduleName"/>
    /// as HF's rank_pattern / alpha_pattern do (<c>(.*\.)?(key)$</c> from the start), or null.</summary>
    /// <remarks>HF: peft.utils.other.get_pattern_key.</remarks>
    public static string? PatternKey(IEnumerable<string> patterns, string moduleName) =>
        patterns.FirstOrDefault(k => Regex.IsMatch(moduleName, @"\A(.*\.)?(" + k + @")\z"));
}
