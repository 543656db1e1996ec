using System.Globalization;

namespace PeftEngine.Peft;

public sealed partial class PeftModel
{
    /// <summary>(trainable, all) parameter element counts of the wrapped model, adapters included; a parameter
    /// shared by two modules counts once.</summary>
    /// <remarks>HF: PeftModel.get_nb_trainable_parameters().</remarks>
    public (long Trainable, long All) GetNbTrainableParameters()
    {
        long trainable = 0, all = 0;
        foreach (var p in Parameters())
        {
            all += p.Numel;
            if (p.RequiresGrad) trainable += p.Numel;
        }
        return (trainable, all);
    }

    /// <summary>The line HF prints, e.g. <c>trainable params: 1,234 || all params: 56,789 || trainable%: 2.1730</c>;
    /// written to standard output and returned.</summary>
    /// <remarks>HF: PeftModel.print_trainable_parameters().</remarks>
    public string PrintTrainableParameters()
    {
        string line = TrainableParametersLine();
        Console.WriteLine(line);
        return line;
    }

    /// <summary>The line <see cref="PrintTrainableParameters"/> prints, without printing it.</summary>
    public string TrainableParametersLine()
    {
        var (t, a) = GetNbTrainableParameters();
        return string.Create(CultureInfo.InvariantCulture,
            $"trainable params: {t:N0} || all params: {a:N0} || trainable%: {(a == 0 ? 0 : 100.0 * t / a):F4}");
    }
}
