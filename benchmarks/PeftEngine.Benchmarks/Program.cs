using BenchmarkDotNet.Running;

namespace PeftEngine.Benchmarks;

/// <summary>Runs the benchmark suites: <c>dotnet run -c Release --project benchmarks/PeftEngine.Benchmarks -- --filter '*'</c>.</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
