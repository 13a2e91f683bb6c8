using Microsoft.ML.OnnxRuntime;

namespace DfbNet.Runtime.ExecutionProviders;

/// <summary>What the CUDA and TensorRT providers share: how a failed load becomes a reason, and where tensors live.</summary>
internal static class GpuProviderLoading
{
    /// <summary>Runs <paramref name="append"/>; null when it worked, else why the provider cannot load (a provider
    /// library that cannot load becomes a reason, not a crash).</summary>
    public static string? TryAppend(Action append)
    {
        try
        {
            append();
            return null;
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
        {
            return ex.Message;
        }
    }

    /// <summary>
    /// A session of a GPU provider, features kept on the GPU. When it captures graphs, the session runs on a stream of
    /// its own, which <paramref name="append"/> hands to the provider (<c>user_compute_stream</c>): the stage's graph is
    /// captured there. Null with a reason when the provider (or the CUDA runtime, for capture) cannot load.
    /// </summary>
    public static StageSession? TryCreateSession(string provider, int deviceId, bool capturesGraphs, string modelPath, SessionOptions options, Func<IntPtr, string?> append, out string? reason)
    {
        CudaMemory? memory = null;
        DeviceStream? stream = null;
        try
        {
            if (capturesGraphs)
            {
                try
                {
                    memory = new CudaMemory(deviceId);
                    stream = memory.CreateStream();
                }
                catch (DeviceMemoryException ex)
                {
                    reason = ex.Message;
                    return null;
                }
            }

            reason = append(stream?.Handle ?? IntPtr.Zero);
            if (reason is not null)
            {
                stream?.Dispose();
                return null;
            }

            return new StageSession(new InferenceSession(modelPath, options), provider, DeviceMemory(deviceId), memory, stream);
        }
        catch
        {
            stream?.Dispose();
            throw;
        }
    }

    /// <summary>The provider options that name the stream a session runs on (its native address, in decimal).</summary>
    /// <remarks>Both keys: ONNX Runtime copies the address from string options only when <c>has_user_compute_stream</c> is
    /// among them, and otherwise runs on a stream of its own (seen on an H200: the captured run queued nothing here).</remarks>
    public static void AddStream(Dictionary<string, string> options, IntPtr stream)
    {
        if (stream != IntPtr.Zero)
        {
            options["has_user_compute_stream"] = "1";
            options["user_compute_stream"] = ((ulong)stream).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>CUDA device memory of a GPU.</summary>
    public static OrtMemoryInfo DeviceMemory(int deviceId) =>
        new(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, deviceId, OrtMemType.Default);
}
