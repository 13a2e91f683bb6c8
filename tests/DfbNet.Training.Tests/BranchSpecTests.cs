using DfbNet.Training.Model;

namespace DfbNet.Training.Tests;

/// <summary>The branch list of <c>dfbnet train --branches</c>.</summary>
public sealed class BranchSpecTests
{
    [Fact]
    public void ParseList_ReadsThePresetsOwnBranchesBack()
    {
        Assert.Equal(DfbNetConfig.Edge().Branches, BranchSpec.ParseList("2.1:N1k0.5, 3.2:N1k1"));
        Assert.Equal([new BranchSpec(2, 1, 2, 4)], BranchSpec.ParseList("4.1:n2K4"));
    }

    [Theory]
    [InlineData("2.1", "is not CONV.BLOCK:NnKk")]
    [InlineData("2.1:N1", "is not CONV.BLOCK:NnKk")]
    [InlineData("2.1:k1N1", "is not CONV.BLOCK:NnKk")]
    [InlineData("5.1:N1k1", "not Conv5_x")]
    [InlineData("1.1:N1k1", "not Conv1_x")]
    [InlineData(" , ", "No branch given")]
    public void ParseList_Refuses_WithAMessageThatQuotesTheBranch(string text, string message)
    {
        var ex = Assert.Throws<FormatException>(() => BranchSpec.ParseList(text));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PointsBeyondTheMainBranch_AreLeftToValidate()
    {
        // Parsing knows the syntax; whether block 3 of Conv2_x exists is the network's to say (edge has N 2).
        var config = DfbNetConfig.Edge() with { Branches = BranchSpec.ParseList("2.3:N1k1") };
        Assert.Throws<ArgumentException>(config.Validate);
    }
}
