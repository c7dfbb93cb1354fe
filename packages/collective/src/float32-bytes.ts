/**
 * Float32 values travel as their raw bytes in the host's byte order (little-endian on every
 * platform Node supports), never as text.
 */

/** A Buffer over elements [start, end) of `data`, sharing its memory (no copy). */
export function float32Bytes(data: Float32Array, start = 0, end = data.length): Buffer {
  return Buffer.from(data.buffer, data.byteOffset + start * 4, (end - start) * 4);
}

/** The float32 values in `bytes`: a view when the bytes are 4-aligned, else a copy. */
export function float32View(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0)
    throw new RangeError(`${bytes.byteLength} bytes are not whole float32 values`);
  if (bytes.byteOffset % 4 === 0)
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const copy = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}
