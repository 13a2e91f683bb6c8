namespace DfbNet.Training.Training;

/// <summary>Learning rate at a point of a phase, per iteration so short runs anneal smoothly.</summary>
internal static class LearningRates
{
    /// <param name="schedule">The schedule.</param>
    /// <param name="peak">The phase's base (peak) learning rate.</param>
    /// <param name="epoch">Zero-based epoch of the phase.</param>
    /// <param name="progress">Fraction of the phase done, in [0, 1).</param>
    /// <param name="epochs">Epochs in the phase.</param>
    public static double At(LearningRateSchedule schedule, double peak, int epoch, double progress, int epochs) => schedule switch
    {
        LearningRateSchedule.Step => peak * Math.Pow(0.2, epoch / Math.Max(1, epochs / 5)),
        LearningRateSchedule.Cosine => peak * 0.5 * (1 + Math.Cos(Math.PI * progress)),
        LearningRateSchedule.OneCycle => progress < 0.15
            ? peak * (0.1 + (0.9 * progress / 0.15))
            : peak * 0.5 * (1 + Math.Cos(Math.PI * (progress - 0.15) / 0.85)),
        _ => throw new ArgumentOutOfRangeException(nameof(schedule), schedule, null),
    };
}
