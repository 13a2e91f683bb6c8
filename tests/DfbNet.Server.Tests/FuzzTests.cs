using System.Globalization;
using CsCheck;
using DfbNet.Core;
using DfbNet.Core.Manifest;
using DfbNet.Runtime.Preprocessing;
using DfbNet.Runtime.Tests;
using DfbNet.Server.Internal;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Inference = DfbNet.Protocol.Inference;
using Proto = DfbNet.Protocol.V1;

namespace DfbNet.Server.Tests;

/// <summary>
/// Fuzz targets (CsCheck properties) over what a client controls: encoded images, raw buffers, OIP tensors and both
/// protocols' request mapping. Every input is answered with the documented outcome (a frame, or an InvalidImageException
/// or an RpcException with a client's code) and never anything else. A smoke run of each is part of the tests;
/// <c>scripts/fuzz.sh N</c> runs them N times as long (DFBNET_FUZZ_ITERATIONS), recorded in docs/BENCHMARKS.md.
/// A failure prints CsCheck's seed, which replays it.
/// </summary>
public sealed class FuzzTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly long Iterations = long.TryParse(Environment.GetEnvironmentVariable("DFBNET_FUZZ_ITERATIONS"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 400;

    private static readonly byte[] Png = ImageEncoding.EncodePng(CifarSlice.Hwc(0), 32, 32);
    private static readonly byte[] Jpeg = ImageEncoding.EncodeJpeg(CifarSlice.Hwc(1), 32, 32);
    private static readonly StatusCode[] ClientCodes = [StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.ResourceExhausted];

    private TestServer _server = null!;
    private long _accepted;
    private long _refused;

    private void Accepted() => Interlocked.Increment(ref _accepted);

    private void Refused() => Interlocked.Increment(ref _refused);

    private void Report(string target) =>
        output.WriteLine($"{target}: {Iterations} inputs, {Interlocked.Read(ref _accepted)} accepted, {Interlocked.Read(ref _refused)} refused with a client error, 0 other outcomes");

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    /// <summary>A valid PNG or JPEG with bytes flipped, cut short, inserted, or a PNG's size fields rewritten; or noise.</summary>
    private static readonly Gen<byte[]> EncodedImages = Gen.OneOf(Mutated(Png), Mutated(Jpeg), Gen.Byte.Array[0, 256]);

    private static Gen<byte[]> Mutated(byte[] seed) =>
        Gen.Select(Gen.Int[0, 4], Gen.Int[0, seed.Length - 1], Gen.Byte.Array[1, 24], Gen.Int[0, int.MaxValue].Select(v => (uint)v ^ ((uint)v << 7)), (operation, at, bytes, value) =>
        {
            var image = seed.ToList();
            switch (operation)
            {
                case 0:
                    // Overwrite bytes in place.
                    for (var i = 0; i < bytes.Length && at + i < image.Count; i++)
                    {
                        image[at + i] = bytes[i];
                    }

                    break;
                case 1:
                    image.RemoveRange(at, image.Count - at);
                    break;
                case 2:
                    image.InsertRange(at, bytes);
                    break;
                case 3:
                    // The PNG header's width or height (bytes 16..23): small, huge, zero, negative as int32.
                    var offset = 16 + (4 * (int)(value & 1));
                    var size = (value >> 1) % 5 switch { 0 => 0u, 1 => 1u, 2 => 65_535u, 3 => 0x7FFF_FFFFu, _ => value };
                    for (var i = 0; i < 4 && offset + i < image.Count; i++)
                    {
                        image[offset + i] = (byte)(size >> (24 - (8 * i)));
                    }

                    break;
                default:
                    image[at] ^= (byte)(1 << (int)(value % 8));
                    break;
            }

            return image.ToArray();
        });

    [Fact]
    public void EncodedImages_DecodeOrAreRefused_WithFinitePixels()
    {
        var preprocessor = new ImagePreprocessor(new InputSpec { Width = 32, Height = 32 }, maxSourcePixels: 1 << 22);
        EncodedImages.Sample(bytes =>
        {
            var tensor = new float[preprocessor.TensorLength];
            var source = ImageSource.Encoded(bytes);
            try
            {
                Assert.InRange(preprocessor.DecodeBytes(source), 0, 16L << 20);
                preprocessor.Process(source, tensor);
                Assert.All(tensor, v => Assert.True(float.IsFinite(v)));
                Accepted();
            }
            catch (InvalidImageException ex)
            {
                Assert.False(string.IsNullOrWhiteSpace(ex.Message));
                Refused();
            }
        }, iter: Iterations);
        Report("encoded images");
    }

    [Fact]
    public void RawBuffers_AnyShapeAndLength_AreProcessedOrRefused()
    {
        var preprocessor = new ImagePreprocessor(new InputSpec { Width = 32, Height = 32 }, maxSourcePixels: 1 << 20);
        // Biased towards buffers that fit (3 channels, the exact length) so that both outcomes are exercised.
        Gen.Select(Gen.Int[0, 80], Gen.Int[0, 80], Gen.OneOf(Gen.Const(3), Gen.Int[0, 5]), Gen.OneOf(Gen.Const(0), Gen.Int[-4, 4])).Sample((height, width, channels, delta) =>
        {
            var length = Math.Max(0, (height * width * channels) + delta);
            var pixels = new byte[length];
            Random.Shared.NextBytes(pixels);
            var tensor = new float[preprocessor.TensorLength];
            var source = ImageSource.Raw(pixels, height, width, channels);
            try
            {
                Assert.True(preprocessor.DecodeBytes(source) >= 0);
                preprocessor.Process(source, tensor);
                Assert.Equal(height * width * channels, length);
                Accepted();
            }
            catch (InvalidImageException)
            {
                Refused();
            }
        }, iter: Iterations);
        Report("raw buffers");
    }

    private static readonly Gen<string> Datatypes = Gen.OneOf("FP32", "BYTES", "UINT8", "INT8", "FP16", "FP64", "", "fp32", "BOOL");

    private static readonly Gen<float> Floats = Gen.OneOf(Gen.Float[-10, 10], Gen.OneOf(float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -0f));

    private static readonly Gen<Inference.InferParameter> Parameters = Gen.OneOf(
        Gen.String.Select(s => new Inference.InferParameter { StringParam = s }),
        Gen.OneOf("refine", "full", "first-exit", "fast", "balanced", "0.5,0.5,0.5", "NaN,1,1", "2,2,2", "").Select(s => new Inference.InferParameter { StringParam = s }),
        Gen.Long.Select(v => new Inference.InferParameter { Int64Param = v }),
        Gen.ULong.Select(v => new Inference.InferParameter { Uint64Param = v }),
        Gen.Bool.Select(v => new Inference.InferParameter { BoolParam = v }),
        Gen.Double.Select(v => new Inference.InferParameter { DoubleParam = v }));

    /// <summary>Requests shaped like each of the three inputs (an encoded image, an HWC frame, a CHW tensor) with mutated
    /// contents, and requests with every field at random; each with random parameters.</summary>
    private static readonly Gen<Inference.ModelInferRequest> InferRequests = Gen.Select(
        Gen.OneOf(ImageInputs(), FrameInputs(), TensorInputs(), RandomInputs()),
        Gen.OneOf(Gen.Const("tiny"), Gen.OneOf("tiny", "second", "", "nope")),
        Gen.OneOf(Gen.Const(""), Gen.OneOf("1", "2", "x")),
        Gen.Dictionary(Gen.OneOf("mode", "preset", "thresholds", "timeout", "always_answer", "other"), Parameters)[0, 3],
        (input, model, version, parameters) =>
        {
            var request = new Inference.ModelInferRequest { ModelName = model, ModelVersion = version, Id = "fuzz", Inputs = { input.Tensor } };
            if (input.Raw is { } raw)
            {
                request.RawInputContents.Add(ByteString.CopyFrom(raw));
            }

            foreach (var (key, value) in parameters)
            {
                request.Parameters[key] = value;
            }

            return request;
        });

    private static Gen<(Inference.ModelInferRequest.Types.InferInputTensor Tensor, byte[]? Raw)> ImageInputs() =>
        Gen.Select(EncodedImages, Gen.Bool, (bytes, raw) =>
        {
            var tensor = new Inference.ModelInferRequest.Types.InferInputTensor { Name = "IMAGE", Datatype = "BYTES", Shape = { 1 } };
            if (raw)
            {
                // Raw BYTES elements are length-prefixed (little-endian uint32), as Triton's clients send them.
                return (tensor, [.. BitConverter.GetBytes(bytes.Length), .. bytes]);
            }

            tensor.Contents = new() { BytesContents = { ByteString.CopyFrom(bytes) } };
            return (tensor, (byte[]?)null);
        });

    private static Gen<(Inference.ModelInferRequest.Types.InferInputTensor Tensor, byte[]? Raw)> FrameInputs() =>
        Gen.Select(Gen.Int[0, 48], Gen.Int[0, 48], Gen.OneOf(Gen.Const(0), Gen.Int[-3, 3]), Gen.Bool, (height, width, delta, batch) =>
        {
            var tensor = new Inference.ModelInferRequest.Types.InferInputTensor { Name = "FRAME", Datatype = "UINT8" };
            if (batch)
            {
                tensor.Shape.Add(1);
            }

            tensor.Shape.Add([height, width, 3]);
            var pixels = new byte[Math.Max(0, (height * width * 3) + delta)];
            Random.Shared.NextBytes(pixels);
            return (tensor, (byte[]?)pixels);
        });

    private static Gen<(Inference.ModelInferRequest.Types.InferInputTensor Tensor, byte[]? Raw)> TensorInputs() =>
        Gen.Select(Gen.OneOf(Gen.Float[-3, 3], Gen.Float[-3, 3], Gen.Float[-3, 3], Floats), Gen.Int[0, 3071], Gen.Int[0, 2], Gen.OneOf(Gen.Const(3072), Gen.Int[0, 3100]), (value, at, form, count) =>
        {
            var tensor = new Inference.ModelInferRequest.Types.InferInputTensor { Name = "TENSOR", Datatype = "FP32", Shape = { 1, 3, 32, 32 } };
            var values = new float[count];
            Array.Fill(values, 0.25f);
            if (at < count)
            {
                values[at] = value;
            }

            if (form == 0)
            {
                tensor.Contents = new() { Fp32Contents = { values } };
                return (tensor, (byte[]?)null);
            }

            return (tensor, (byte[]?)System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        });

    private static Gen<(Inference.ModelInferRequest.Types.InferInputTensor Tensor, byte[]? Raw)> RandomInputs() => Gen.Select(
        Gen.OneOf("IMAGE", "FRAME", "TENSOR", "x"),
        Datatypes,
        Gen.Long[-2, 40].Array[0, 5],
        Gen.Int[0, 4],
        (name, datatype, shape, contents) =>
        {
            var tensor = new Inference.ModelInferRequest.Types.InferInputTensor { Name = name, Datatype = datatype, Shape = { shape } };
            var elements = (int)Math.Clamp(shape.Aggregate(1L, (a, b) => a * Math.Max(b, 0)), 0, 4096);
            byte[]? raw = null;
            switch (contents)
            {
                case 0:
                    tensor.Contents = new() { BytesContents = { ByteString.CopyFrom(Png) } };
                    break;
                case 1:
                    tensor.Contents = new() { Fp32Contents = { Floats.Array[elements].Single() } };
                    break;
                case 2:
                    raw = Gen.Byte.Array[0, Math.Min(elements * 4, 16_384) + 8].Single();
                    break;
                case 3:
                    tensor.Contents = new() { UintContents = { Gen.UInt[0, 300].Array[elements].Single() } };
                    break;
                default:
                    break;
            }

            return (tensor, raw);
        });

    [Fact]
    public async Task OipRequests_AreFramesOrAClientError_AndFramesEndWithoutAnInternalError()
    {
        var defaults = new DfbNetServerOptions();
        var parsed = new List<OipRequest>();
        InferRequests.Sample(request =>
        {
            try
            {
                parsed.Add(OipRequest.Parse(request, _server.Models, defaults, 0));
                Accepted();
            }
            catch (RpcException ex)
            {
                Assert.Contains(ex.StatusCode, ClientCodes);
                Assert.False(string.IsNullOrWhiteSpace(ex.Status.Detail));
                Refused();
            }
        }, iter: Iterations, threads: 1);
        Report("OIP requests (parsed)");

        // The requests that parsed run: each ends with a final event, never an internal failure.
        foreach (var request in parsed.Take(200))
        {
            using var model = request.Model;
            ExitEvent? final = null;
            await foreach (var e in request.Engine.ClassifyAsync(request.Frame with { ReceivedTimestamp = TimeProvider.System.GetTimestamp() }))
            {
                final = e;
            }

            Assert.NotNull(final);
            Assert.True(final.Kind != ExitKind.Error || final.ErrorCode is FrameErrorCode.InvalidArgument or FrameErrorCode.ResourceExhausted, final.Error);
        }

        foreach (var request in parsed.Skip(200))
        {
            request.Model.Dispose();
        }
    }

    private static readonly Gen<Proto.StreamOptions?> NativeOptions = Gen.Select(
        Gen.OneOf("", "tiny", "second", "nope"),
        Gen.Int[-1, 5],
        Gen.Int[0, 3],
        Floats.Array[0, 5],
        Gen.Long,
        Gen.Int,
        Gen.UInt[0, 2000],
        Gen.Int[-1, 4],
        (model, mode, selection, thresholds, seconds, nanos, topK, queue) => selection == 3 ? null : new Proto.StreamOptions
        {
            Model = model,
            Mode = (Proto.InferenceMode)mode,
            Thresholds = selection switch
            {
                0 => new Proto.ThresholdSelection { Preset = thresholds.Length > 2 ? "fast" : "unknown" },
                1 => new Proto.ThresholdSelection { Explicit = new Proto.Thresholds { Values = { thresholds } } },
                _ => null,
            },
            Budget = seconds % 3 == 0 ? null : new Duration { Seconds = seconds % 2 == 0 ? seconds : seconds % 100, Nanos = nanos },
            TopK = topK,
            QueuePolicy = (Proto.QueuePolicy)queue,
        });

    private static readonly Gen<Metadata> Headers = Gen.Dictionary(
        Gen.OneOf(ResolvedOptions.ModelHeader, ResolvedOptions.ModeHeader, ResolvedOptions.PresetHeader, ResolvedOptions.ThresholdsHeader, ResolvedOptions.BudgetHeader, ResolvedOptions.TopKHeader, ResolvedOptions.QueuePolicyHeader, ResolvedOptions.AlwaysAnswerHeader),
        Gen.OneOf(Gen.OneOf("1e15", "1e300", "NaN", "-1", "-0", "Infinity", "5", "0", "abc", "0.5,0.5,0.5", "true", "latest", "refine", "tiny", ""), Gen.String[0, 12]))[0, 5]
        .Select(entries =>
        {
            var metadata = new Metadata();
            foreach (var (key, value) in entries)
            {
                metadata.Add(key, new string([.. value.Where(c => c is >= ' ' and <= '~')]));
            }

            return metadata;
        });

    [Fact]
    public void NativeOptionsAndMetadata_ResolveOrAreInvalidArgument()
    {
        var defaults = new DfbNetServerOptions();
        Gen.Select(NativeOptions, Headers).Sample((options, headers) =>
        {
            try
            {
                var engine = _server.Models.GetOrThrow(ResolvedOptions.ModelName(options, headers));
                var settings = ResolvedOptions.Resolve(options, headers, engine, defaults);
                Assert.True(settings.TopK >= 1);
                Assert.True(settings.Budget is null || settings.Budget > TimeSpan.Zero);
                Accepted();
            }
            catch (RpcException ex)
            {
                Assert.Contains(ex.StatusCode, ClientCodes);
                Refused();
            }
        }, iter: Iterations);
        Report("native options and metadata");
    }

    [Fact]
    public void NativeStreamFrames_ParseWithoutThrowing_WhateverTheImageAndBudget()
    {
        var defaults = new DfbNetServerOptions();
        var engine = _server.Models.GetOrThrow("tiny");
        var first = ResolvedOptions.Resolve(null, null, engine, defaults);
        var protocol = new NativeStreamProtocol(_server.Models, null, [], defaults, first);
        Gen.Select(EncodedImages, Gen.Int[0, 3], Gen.Long, Gen.Int, Gen.UInt[0, 40]).Sample((bytes, kind, seconds, nanos, side) =>
        {
            var image = kind switch
            {
                0 => new Proto.Image { Encoded = ByteString.CopyFrom(bytes) },
                1 => new Proto.Image { Raw = new Proto.RawImage { Height = side, Width = side + 1, Channels = side % 5, Data = ByteString.CopyFrom(bytes) } },
                2 => new Proto.Image(),
                _ => null,
            };
            var message = new Proto.StreamRequest { Frame = new Proto.Frame { FrameId = "f", Image = image, Budget = seconds % 2 == 0 ? null : new Duration { Seconds = seconds, Nanos = nanos } } };
            var frame = protocol.Parse(message, 0, 0);
            Assert.True((frame.Request is null) != (frame.Failure is null));
            if (frame.Failure is null)
            {
                Accepted();
            }
            else
            {
                Refused();
            }

            frame.Model?.Dispose();
        }, iter: Iterations);
        Report("native stream frames");
    }
}
