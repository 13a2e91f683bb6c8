namespace DfbNet.Training.Model;

/// <summary>Where a side branch leaves the main branch and how its own groups are shaped.</summary>
/// <param name="AfterGroup">Zero-based main group (0 = Conv2_x .. 3 = Conv5_x) the branch point lies in.</param>
/// <param name="AfterBlock">Number of blocks of that group computed before the branch point (1 = after its first block).</param>
/// <param name="Blocks">N of the branch: blocks in each of its own groups (groups AfterGroup+1 .. Conv5_x).</param>
/// <param name="Widen">k of the branch; below 1 for branches narrower than Table 1's narrowest (k = 0.5 gives 16, 32, 64).</param>
public sealed record BranchSpec(int AfterGroup, int AfterBlock, int Blocks, double Widen)
{
    /// <summary>Width of the branch's own copy of main group <paramref name="group"/>.</summary>
    public int Width(int group) => Math.Max(1, (int)Math.Round(DfbNetConfig.GroupBaseWidths[group] * Widen));

    /// <summary>
    /// Branches written as <c>CONV.BLOCK:NnKk</c>, comma separated in exit order: the branch leaves after block BLOCK of
    /// ConvCONV_x (2..4) and has n blocks in each of its groups, widened by k. The <c>edge</c> preset's are
    /// <c>2.1:N1k0.5,3.2:N1k1</c>. Whether the points exist in a given main branch is <see cref="DfbNetConfig.Validate"/>'s
    /// to say.
    /// </summary>
    /// <exception cref="FormatException">A branch is not written that way; the message quotes it.</exception>
    public static IReadOnlyList<BranchSpec> ParseList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var branches = new List<BranchSpec>();
        foreach (var item in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var match = System.Text.RegularExpressions.Regex.Match(item, @"^(\d)\.(\d+):[Nn](\d+)[Kk](\d+(?:\.\d+)?)$");
            if (!match.Success)
            {
                throw new FormatException($"'{item}' is not CONV.BLOCK:NnKk (for example 2.1:N1k0.5: after block 1 of Conv2_x, N 1, k 0.5).");
            }

            var conv = int.Parse(match.Groups[1].Value, inv);
            if (conv is < 2 or > 4)
            {
                throw new FormatException($"'{item}': a branch leaves after a block of Conv2_x, Conv3_x or Conv4_x, not Conv{conv}_x.");
            }

            branches.Add(new BranchSpec(conv - 2, int.Parse(match.Groups[2].Value, inv), int.Parse(match.Groups[3].Value, inv), double.Parse(match.Groups[4].Value, inv)));
        }

        return branches.Count > 0 ? branches : throw new FormatException("No branch given; at least one is needed (for example 2.1:N1k0.5).");
    }
}

/// <summary>
/// Shape and input recipe of a DFB-Net (Table 1 of the paper): Conv1 [3x3, 16], then four groups of N pre-activation
/// wide basic blocks with widths 16k, 32k, 64k, 128k (strides 1, 2, 2, 2), global average pooling and a linear exit;
/// side branches are "small but complete" copies of the remaining groups with their own N and k.
/// </summary>
public sealed record DfbNetConfig
{
    /// <summary>Widths of Conv2_x..Conv5_x before widening.</summary>
    public static IReadOnlyList<int> GroupBaseWidths { get; } = [16, 32, 64, 128];

    public const int StemWidth = 16;

    public required string Name { get; init; }

    /// <summary>N of the main branch.</summary>
    public required int Blocks { get; init; }

    /// <summary>k of the main branch: Table 1's widths 16k, 32k, 64k, 128k. Unused where <see cref="MainWidths"/> is set.</summary>
    public int Widen { get; init; } = 1;

    /// <summary>
    /// Widths of the main branch's Conv2_x..Conv5_x where they differ from Table 1's 16k, 32k, 64k, 128k (null: Table 1).
    /// The edge preset keeps Conv2_x narrow so that the trunk before the first exit is a small part of the main branch.
    /// </summary>
    public IReadOnlyList<int>? MainWidths { get; init; }

    /// <summary>Side branches in exit order (earliest first); exit M is the main branch.</summary>
    public required IReadOnlyList<BranchSpec> Branches { get; init; }

    public int Classes { get; init; } = 10;

    /// <summary>Square test input (the paper: 56); images are resized to it with no crop.</summary>
    public required int TestSize { get; init; }

    /// <summary>Square training crop (the paper: 48).</summary>
    public required int CropSize { get; init; }

    /// <summary>Range of the random resize before the crop, for height and width independently (the paper: 48..64).</summary>
    public required int ScaleMin { get; init; }

    public required int ScaleMax { get; init; }

    /// <summary>Dropout probability inside each block (between the two convolutions); 0 disables it.</summary>
    public double Dropout { get; init; }

    public int ExitCount => Branches.Count + 1;

    /// <summary>Width of main group <paramref name="group"/> (0 = Conv2_x).</summary>
    public int MainWidth(int group) => MainWidths?[group] ?? GroupBaseWidths[group] * Widen;

    /// <summary>Short description of the shape, for manifests and logs.</summary>
    public string Describe()
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var widths = MainWidths is null ? string.Create(inv, $"-k{Widen}") : $" widths {string.Join("/", MainWidths)}";
        var branches = string.Join(", ", Branches.Select(b => string.Create(inv, $"N{b.Blocks}k{b.Widen} after Conv{b.AfterGroup + 2}_x block {b.AfterBlock}")));
        return string.Create(inv, $"main WRN-{(8 * Blocks) + 2}-N{Blocks}{widths}, branches {branches}; {TestSize}x{TestSize} input");
    }

    /// <summary>The paper's network: WRN-50-N6-k6 with branches N2k2 (after Conv2_x block 1) and N4k4 (after Conv3_x block 2).</summary>
    public static DfbNetConfig Paper(int classes = 10) => new()
    {
        Name = "paper",
        Blocks = 6,
        Widen = 6,
        Branches = [new BranchSpec(0, 1, 2, 2), new BranchSpec(1, 2, 4, 4)],
        Classes = classes,
        TestSize = 56,
        CropSize = 48,
        ScaleMin = 48,
        ScaleMax = 64,
    };

    /// <summary>
    /// Small enough to train on two CPU cores in about an hour and to serve a frame in about a millisecond on one:
    /// 32x32 test inputs (CIFAR's own size) and the paper's recipe scaled by 32/56 (28 crops of images resized to
    /// 28..36, as 48 crops of 48..64 for a 56 test size); main N2 with Conv2_x..Conv5_x 16/48/128/256 wide, branch 1
    /// N1 k0.5 after Conv2_x block 1, branch 2 N1 k1 after Conv3_x block 2. Conv2_x stays at 16 channels because at
    /// full resolution it is the costliest place per channel, and the first exit must cost a small part of the main
    /// branch, as in the paper (there its trunk and branch are about 7% of the main branch): here 8.2M of 94M
    /// multiply-adds; the width goes where it is cheap per image, at 8x8 and 4x4. Branch 2 leaves after all of Conv3_x
    /// (as the paper's leaves after its second block): the extra trunk block is paid only by the images that leave
    /// there, every image that goes on needs it anyway, and it made exit 2 two points more accurate (11.0% against 13.0%).
    /// </summary>
    public static DfbNetConfig Edge(int classes = 10) => new()
    {
        Name = "edge",
        Blocks = 2,
        MainWidths = [16, 48, 128, 256],
        Branches = [new BranchSpec(0, 1, 1, 0.5), new BranchSpec(1, 2, 1, 1)],
        Classes = classes,
        TestSize = 32,
        CropSize = 28,
        ScaleMin = 28,
        ScaleMax = 36,
    };

    /// <summary>For tests: trains in seconds on 16x16 inputs.</summary>
    public static DfbNetConfig Tiny(int classes = 10) => new()
    {
        Name = "tiny",
        Blocks = 1,
        Widen = 1,
        Branches = [new BranchSpec(0, 1, 1, 1), new BranchSpec(1, 1, 1, 1)],
        Classes = classes,
        TestSize = 16,
        CropSize = 16,
        ScaleMin = 16,
        ScaleMax = 20,
    };

    public static DfbNetConfig FromPreset(string preset, int classes = 10) => preset switch
    {
        "paper" => Paper(classes),
        "edge" => Edge(classes),
        "tiny" => Tiny(classes),
        _ => throw new ArgumentException($"Unknown preset '{preset}'; expected paper, edge or tiny.", nameof(preset)),
    };

    /// <summary>The smallest input side: three stride-2 groups leave Conv5_x one pixel.</summary>
    public const int MinInputSize = 8;

    /// <summary>
    /// The same network for square inputs of <paramref name="size"/> (for example camera crops larger than CIFAR's):
    /// the test size, crop and random-resize range scaled by size / <see cref="TestSize"/> and rounded, so the
    /// augmentation keeps its proportions (edge at 64: 56 crops of images resized to 56..72).
    /// </summary>
    public DfbNetConfig WithInputSize(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, MinInputSize);
        var scale = size / (double)TestSize;
        int Scaled(int value) => (int)Math.Round(value * scale, MidpointRounding.AwayFromZero);

        // Rounding keeps the order of crop <= scale range, so every random resize still holds a crop.
        return this with { TestSize = size, CropSize = Scaled(CropSize), ScaleMin = Scaled(ScaleMin), ScaleMax = Scaled(ScaleMax) };
    }

    /// <summary>Checks that branch points exist and lie in order, so stages are well defined.</summary>
    public void Validate()
    {
        if (Blocks < 1 || Widen < 1)
        {
            throw new ArgumentException($"Preset {Name}: N and k must be >= 1.");
        }

        if (MainWidths is { } widths && (widths.Count != 4 || widths.Any(w => w < 1)))
        {
            throw new ArgumentException($"Preset {Name}: MainWidths needs four positive widths (Conv2_x..Conv5_x).");
        }

        var previous = -1;
        foreach (var b in Branches)
        {
            if (b.AfterGroup is < 0 or > 2 || b.AfterBlock < 1 || b.AfterBlock > Blocks || b.Blocks < 1 || b.Widen <= 0)
            {
                throw new ArgumentException($"Preset {Name}: branch {b} must leave after a block of Conv2_x..Conv4_x and have N >= 1, k > 0.");
            }

            var position = (b.AfterGroup * Blocks) + b.AfterBlock;
            if (position <= previous || position >= 4 * Blocks)
            {
                throw new ArgumentException($"Preset {Name}: branch points must be in order and before the last main block.");
            }

            previous = position;
        }
    }
}
