namespace DfbNet.Runtime.Tests.Onnx;

/// <summary>
/// Straightforward NCHW loops implementing the ONNX operator definitions, used as the
/// oracle that ONNX Runtime's optimised kernels are compared against.
/// </summary>
internal static class ReferenceOps
{
    public static float[] Conv2d(
        float[] x, int n, int cin, int h, int w,
        float[] weight, int cout, int k, float[]? bias,
        int stride, int pad, int group, out int oh, out int ow)
    {
        oh = ((h + (2 * pad) - k) / stride) + 1;
        ow = ((w + (2 * pad) - k) / stride) + 1;
        var cinPerGroup = cin / group;
        var coutPerGroup = cout / group;
        var y = new float[n * cout * oh * ow];
        for (var b = 0; b < n; b++)
        {
            for (var co = 0; co < cout; co++)
            {
                var g = co / coutPerGroup;
                for (var oy = 0; oy < oh; oy++)
                {
                    for (var ox = 0; ox < ow; ox++)
                    {
                        var sum = bias?[co] ?? 0f;
                        for (var ci = 0; ci < cinPerGroup; ci++)
                        {
                            var inC = (g * cinPerGroup) + ci;
                            for (var ky = 0; ky < k; ky++)
                            {
                                for (var kx = 0; kx < k; kx++)
                                {
                                    var iy = (oy * stride) - pad + ky;
                                    var ix = (ox * stride) - pad + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                    {
                                        continue;
                                    }

                                    sum += x[(((b * cin) + inC) * h * w) + (iy * w) + ix]
                                        * weight[(((co * cinPerGroup) + ci) * k * k) + (ky * k) + kx];
                                }
                            }
                        }

                        y[(((b * cout) + co) * oh * ow) + (oy * ow) + ox] = sum;
                    }
                }
            }
        }

        return y;
    }

    public static float[] BatchNorm(
        float[] x, int n, int c, int spatial, float[] scale, float[] bias, float[] mean, float[] variance, float epsilon)
    {
        var y = new float[x.Length];
        for (var b = 0; b < n; b++)
        {
            for (var ch = 0; ch < c; ch++)
            {
                var inv = 1f / MathF.Sqrt(variance[ch] + epsilon);
                for (var i = 0; i < spatial; i++)
                {
                    var idx = (((b * c) + ch) * spatial) + i;
                    y[idx] = ((x[idx] - mean[ch]) * inv * scale[ch]) + bias[ch];
                }
            }
        }

        return y;
    }

    /// <summary>ONNX default count_include_pad = 0: padded cells do not count toward the mean.</summary>
    public static float[] AvgPool(float[] x, int n, int c, int h, int w, int k, int stride, int pad, out int oh, out int ow)
    {
        oh = ((h + (2 * pad) - k) / stride) + 1;
        ow = ((w + (2 * pad) - k) / stride) + 1;
        var y = new float[n * c * oh * ow];
        for (var plane = 0; plane < n * c; plane++)
        {
            for (var oy = 0; oy < oh; oy++)
            {
                for (var ox = 0; ox < ow; ox++)
                {
                    float sum = 0;
                    var count = 0;
                    for (var ky = 0; ky < k; ky++)
                    {
                        for (var kx = 0; kx < k; kx++)
                        {
                            var iy = (oy * stride) - pad + ky;
                            var ix = (ox * stride) - pad + kx;
                            if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                            {
                                sum += x[(plane * h * w) + (iy * w) + ix];
                                count++;
                            }
                        }
                    }

                    y[(plane * oh * ow) + (oy * ow) + ox] = sum / count;
                }
            }
        }

        return y;
    }

    public static float[] GlobalAvgPool(float[] x, int n, int c, int spatial)
    {
        var y = new float[n * c];
        for (var plane = 0; plane < n * c; plane++)
        {
            float sum = 0;
            for (var i = 0; i < spatial; i++)
            {
                sum += x[(plane * spatial) + i];
            }

            y[plane] = sum / spatial;
        }

        return y;
    }

    /// <summary>Y[m, n] = sum_k A[m, k] * B[n, k] + C[n] (B transposed, C broadcast over rows).</summary>
    public static float[] GemmTransB(float[] a, int m, int k, float[] b, int nOut, float[] c)
    {
        var y = new float[m * nOut];
        for (var row = 0; row < m; row++)
        {
            for (var col = 0; col < nOut; col++)
            {
                var sum = c[col];
                for (var i = 0; i < k; i++)
                {
                    sum += a[(row * k) + i] * b[(col * k) + i];
                }

                y[(row * nOut) + col] = sum;
            }
        }

        return y;
    }

    public static float[] Softmax(ReadOnlySpan<float> logits)
    {
        var max = float.NegativeInfinity;
        foreach (var v in logits)
        {
            max = MathF.Max(max, v);
        }

        var result = new float[logits.Length];
        float sum = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            result[i] = MathF.Exp(logits[i] - max);
            sum += result[i];
        }

        for (var i = 0; i < result.Length; i++)
        {
            result[i] /= sum;
        }

        return result;
    }
}
