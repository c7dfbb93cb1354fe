/**
 * A contribution to an all-reduce chunk travels as two list elements pushed together:
 * a 16-byte header, then the payload. The header (four little-endian uint32):
 *   0 kind        1 = data (payload: raw float32 bytes of the chunk), 2 = error (payload: UTF-8 reason)
 *   4 rank        the sender
 *   8 length      the sender's whole vector length N
 *  12 chunk size  the sender's chunkElements
 * Owners check length and chunk size against their own, so ranks that disagree fail with
 * COLLECTIVE_MISMATCH instead of summing misaligned values.
 */
export const FRAME_HEADER_BYTES = 16;

export enum FrameKind {
  DATA = 1,
  ERROR = 2,
}

export interface FrameHeader {
  readonly kind: FrameKind;
  readonly rank: number;
  readonly length: number;
  readonly chunkElements: number;
}

export function encodeFrameHeader(header: FrameHeader): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  buf.writeUInt32LE(header.kind, 0);
  buf.writeUInt32LE(header.rank, 4);
  buf.writeUInt32LE(header.length, 8);
  buf.writeUInt32LE(header.chunkElements, 12);
  return buf;
}

/** The header, or null when `buf` is not one. */
export function decodeFrameHeader(buf: Buffer): FrameHeader | null {
  if (buf.length !== FRAME_HEADER_BYTES) return null;
  const kind = buf.readUInt32LE(0);
  if (kind !== FrameKind.DATA && kind !== FrameKind.ERROR) return null;
  return {
    kind,
    rank: buf.readUInt32LE(4),
    length: buf.readUInt32LE(8),
    chunkElements: buf.readUInt32LE(12),
  };
}
