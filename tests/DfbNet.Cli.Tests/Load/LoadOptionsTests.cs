using DfbNet.Cli.Load;
using DfbNet.Protocol.V1;

namespace DfbNet.Cli.Tests.Load;

public sealed class LoadOptionsTests
{
    [Fact]
    public void Parse_Defaults_FindTheRepositorysCifarSliceAndMultiplyFpsByStreams()
    {
        var options = LoadOptions.Parse(new Dictionary<string, string?> { ["--streams"] = "4", ["--fps"] = "25" }, alwaysAnswer: false, AppContext.BaseDirectory, out var error);
        Assert.Null(error);
        Assert.NotNull(options);
        Assert.Equal(100, options.TotalRate);
        Assert.Equal(TimeSpan.FromSeconds(10), options.Duration);
        Assert.Equal(TimeSpan.FromSeconds(1), options.Warmup);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Drain);
        Assert.Equal(ArrivalProcess.Fixed, options.Arrivals);
        Assert.Equal(LoadProtocol.Native, options.Protocol);
        Assert.Equal(FrameFormat.Png, options.Format);
        Assert.Equal(QueuePolicy.Unspecified, options.QueuePolicy);
        Assert.Equal([0.0], options.BudgetsMs);
        Assert.Equal(50, options.P99BoundMs);
        Assert.EndsWith(Path.Combine("tests", "data", "cifar10-test-200.bin"), options.DataPath, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EveryOption()
    {
        var options = LoadOptions.Parse(
            new Dictionary<string, string?>
            {
                ["--rate"] = "300", ["--streams"] = "3", ["--arrivals"] = "Poisson", ["--seed"] = "-5", ["--duration"] = "2.5", ["--warmup"] = "0",
                ["--drain-seconds"] = "1", ["--budget-ms"] = "0, 10,50.5", ["--protocol"] = "oip", ["--format"] = "raw", ["--queue-policy"] = "latest",
                ["--p99-bound-ms"] = "20",
            },
            alwaysAnswer: true,
            AppContext.BaseDirectory,
            out var error);
        Assert.Null(error);
        Assert.Equal(300, options!.TotalRate);
        Assert.Equal(ArrivalProcess.Poisson, options.Arrivals);
        Assert.Equal(-5, options.Seed);
        Assert.Equal(TimeSpan.FromSeconds(2.5), options.Duration);
        Assert.Equal(TimeSpan.Zero, options.Warmup);
        Assert.Equal([0, 10, 50.5], options.BudgetsMs);
        Assert.Equal(LoadProtocol.Oip, options.Protocol);
        Assert.Equal(FrameFormat.Raw, options.Format);
        Assert.Equal(QueuePolicy.Latest, options.QueuePolicy);
        Assert.True(options.AlwaysAnswer);
        Assert.Equal(20, options.P99BoundMs);
    }

    [Theory]
    [InlineData("--duration", "0", "--duration '0' is not a positive number.")]
    [InlineData("--warmup", "-1", "--warmup '-1' is not a non-negative number.")]
    [InlineData("--duration", "7200", "--duration 7200 is more than 3600 seconds.")]
    [InlineData("--format", "webp", "--format 'webp' is not one of png, jpeg, raw.")]
    [InlineData("--queue-policy", "drop", "--queue-policy 'drop' is not one of queue, latest.")]
    [InlineData("--seed", "1.5", "--seed '1.5' is not an integer.")]
    [InlineData("--fps", "NaN", "--fps 'NaN' is not a positive number.")]
    public void Parse_BadValue_NamesTheOption(string name, string value, string message)
    {
        var values = new Dictionary<string, string?> { ["--fps"] = "10", [name] = value };
        Assert.Null(LoadOptions.Parse(values, false, AppContext.BaseDirectory, out var error));
        Assert.Equal(message, error);
    }

    [Fact]
    public void Parse_NoDataAboveTheWorkingDirectory_SaysWhereToGetCifar()
    {
        var empty = Directory.CreateTempSubdirectory("dfbnet-load-");
        try
        {
            Assert.Null(LoadOptions.Parse(new Dictionary<string, string?> { ["--fps"] = "10" }, false, empty.FullName, out var error));
            Assert.StartsWith("--data is needed: no tests/data/cifar10-test-200.bin was found above", error, StringComparison.Ordinal);
            Assert.Contains("CIFAR-10 binary version", error, StringComparison.Ordinal);
        }
        finally
        {
            empty.Delete();
        }
    }

    [Fact]
    public void Parse_DataFolder_FindsTestBatchInTheFolderCifarUnpacksTo()
    {
        var root = Directory.CreateTempSubdirectory("dfbnet-load-");
        try
        {
            var folder = Directory.CreateDirectory(Path.Combine(root.FullName, "cifar-10-batches-bin"));
            File.WriteAllBytes(Path.Combine(folder.FullName, "test_batch.bin"), new byte[3073]);
            var options = LoadOptions.Parse(new Dictionary<string, string?> { ["--fps"] = "10", ["--data"] = root.FullName }, false, root.FullName, out var error);
            Assert.Null(error);
            Assert.Equal(Path.Combine(folder.FullName, "test_batch.bin"), options!.DataPath);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}
