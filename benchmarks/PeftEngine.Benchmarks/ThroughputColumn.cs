using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace PeftEngine.Benchmarks;

/// <summary>
/// A column that turns the mean time of a call into a rate: units handled per call (tokens, bytes…) divided by
/// the mean time. The benchmark class tells it how many units one call handles.
/// </summary>
/// <param name="name">Column header, e.g. "tokens/s".</param>
/// <param name="unitsPerCall">Units one call of the benchmark case handles.</param>
/// <param name="scale">Divides the rate before printing (1e9 to print GB/s from bytes).</param>
internal sealed class ThroughputColumn(string name, Func<BenchmarkCase, double> unitsPerCall, double scale = 1) : IColumn
{
    public string Id => "Throughput" + name;
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => $"{name}: units handled per call / mean time";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        if (stats is null) return "NA";
        double perSecond = unitsPerCall(benchmarkCase) / (stats.Mean * 1e-9);   // Mean is in nanoseconds
        return (perSecond / scale).ToString(perSecond / scale >= 100 ? "F0" : "F2");
    }
}
