// The safetensors file format (https://github.com/huggingface/safetensors), F32 tensors only, without TensorFlow:
//   u64 little-endian N | N bytes of JSON header | the tensors' bytes, back to back
// The header maps each tensor name to { dtype, shape, data_offsets: [begin, end] } (offsets into the byte buffer
// after the header) and may hold "__metadata__", a string-to-string map. The writer pads the JSON with spaces to
// a multiple of 8 bytes, so every tensor starts 8-byte aligned (as the reference implementation does), stores the
// tensors in the order given, contiguously, little-endian whatever the host, and writes the file atomically.
// The reader checks what the reference loader checks: a sane header length, offsets that tile the buffer exactly,
// sizes that match the shapes.
import { writeFileAtomic } from './atomic.ts';

export interface NamedTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The file's bytes: header length, header JSON (space-padded to 8), tensors in the order given. */
export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new TypeError(`safetensors metadata must be strings: ${key} is ${typeof value}`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) throw new TypeError(`tensor name ${t.name} is reserved or repeated`);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || size !== t.data.length) {
      throw new TypeError(`tensor ${t.name}: shape [${t.shape}] does not fit ${t.data.length} values`);
    }
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + 4 * size] } satisfies HeaderEntry;
    offset += 4 * size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    if (LITTLE_ENDIAN) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    else t.data.forEach((v, i) => view.setFloat32(at + 4 * i, v, true));
    at += t.data.byteLength;
  }
  return out;
}

/** Writes `tensors` to `file` as safetensors, atomically (temp file, fsync, rename). */
export function writeSafetensors(file: string, tensors: readonly NamedTensor[], metadata: Readonly<Record<string, string>> = {}): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

/** Parses a safetensors file's bytes (F32 tensors only); throws saying what is malformed. */
export function decodeSafetensors(bytes: Uint8Array): { tensors: Map<string, { shape: number[]; data: Float32Array }>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new Error('not a safetensors file: shorter than its 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > bytes.length) throw new Error(`not a safetensors file: header length ${headerLength} does not fit the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLength).toString('utf8'));
  } catch (error) {
    throw new Error(`not a safetensors file: the header is not JSON (${(error as Error).message})`);
  }
  const start = 8 + headerLength;
  const bufferLength = bytes.length - start;
  const { __metadata__: metadata = {}, ...entries } = header as { __metadata__?: Record<string, string> } & Record<string, HeaderEntry>;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const spans: Array<[number, number]> = [];
  for (const [name, entry] of Object.entries(entries)) {
    if (entry.dtype !== 'F32') throw new Error(`tensor ${name}: dtype ${entry.dtype}, only F32 is read here`);
    const [begin, end] = entry.data_offsets;
    const size = entry.shape.reduce((a, b) => a * b, 1);
    if (!(Number.isSafeInteger(begin) && Number.isSafeInteger(end) && begin <= end && end <= bufferLength && end - begin === 4 * size)) {
      throw new Error(`tensor ${name}: data_offsets [${begin}, ${end}] do not hold shape [${entry.shape}] within ${bufferLength} bytes`);
    }
    spans.push([begin, end]);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = view.getFloat32(start + begin + 4 * i, true);
    tensors.set(name, { shape: entry.shape, data });
  }
  spans.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  for (const [begin, end] of spans) {
    if (begin !== covered) throw new Error('tensor data overlaps or leaves a hole (the offsets must tile the buffer)');
    covered = end;
  }
  if (covered !== bufferLength) throw new Error(`the tensors cover ${covered} of the ${bufferLength} data bytes`);
  return { tensors, metadata };
}
