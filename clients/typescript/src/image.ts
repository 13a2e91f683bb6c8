import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';

/** The wire form of an image (the proto's Image message). */
export type WireImage = { encoded: Buffer } | { raw: { data: Buffer; height: number; width: number; channels: number } };

/** An image to classify: a JPEG or PNG file's bytes, or raw 8-bit RGB pixels (height x width x 3, row by row). */
export class ImageInput {
  private constructor(
    /** @internal */ readonly wire: WireImage,
    /** What the image is, for messages. */
    readonly description: string,
  ) {}

  /** An encoded image (JPEG or PNG); the server decodes it. */
  static fromBytes(bytes: Uint8Array): ImageInput {
    if (bytes.length === 0) {
      throw new RangeError('The image is empty.');
    }
    return new ImageInput({ encoded: Buffer.from(bytes) }, `encoded (${bytes.length} bytes)`);
  }

  /** Raw RGB pixels in height x width x 3 order; the buffer must be exactly width * height * 3 bytes. */
  static fromRgb(pixels: Uint8Array, width: number, height: number): ImageInput {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new RangeError(`Width ${width} and height ${height} must be positive integers.`);
    }
    if (pixels.length !== width * height * 3) {
      throw new RangeError(`A ${width}x${height} RGB image has ${width * height * 3} bytes; the buffer has ${pixels.length}.`);
    }
    return new ImageInput({ raw: { data: Buffer.from(pixels), width, height, channels: 3 } }, `raw ${width}x${height} RGB`);
  }

  /** Reads a JPEG or PNG file. */
  static async fromFile(path: string, signal?: AbortSignal): Promise<ImageInput> {
    const bytes = await readFile(path, { signal });
    if (bytes.length === 0) {
      throw new RangeError(`'${path}' is empty.`);
    }
    return new ImageInput({ encoded: bytes }, basename(path));
  }

  toString(): string {
    return this.description;
  }
}
