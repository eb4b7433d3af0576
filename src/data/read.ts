// Bytes of a data file (a plain file, or a zip holding one data file) and their text: UTF-8 by
// default, checked strictly so that a Latin-1 file is an error naming the line and byte rather
// than U+FFFD in the training text; --encoding (any WHATWG label, e.g. latin1, windows-1252)
// decodes other files through TextDecoder.
import { unzipSync } from "fflate";
import { UserError } from "../errors.ts";

export interface DataBytes {
  /** The name that decides the format: the file's, or the zip member's. */
  name: string;
  bytes: Uint8Array;
  /** How to name the source in messages: `file` or `file!member`. */
  where: string;
}

const DATA_EXT = /\.(csv|tsv|txt|jsonl|ndjson|json|parquet)$/i;

/** Reads FILE; a zip must hold exactly one data file (or the UCI SMSSpamCollection). */
export async function readDataBytes(file: string): Promise<DataBytes> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch {
    throw new UserError(`${file}: file not found`);
  }
  return dataBytes(file, bytes);
}

/**
 * The data inside a file's bytes (no file system: what a web page does with a chosen file): the
 * bytes themselves, or the one data file of a zip. Errors name `file`.
 */
export function dataBytes(file: string, bytes: Uint8Array): DataBytes {
  if (!(bytes[0] === 0x50 && bytes[1] === 0x4B && bytes[2] === 3 && bytes[3] === 4)) {
    return { name: file, bytes, where: file };
  }
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    throw new UserError(`${file}: not a readable zip archive (${(e as Error).message})`);
  }
  const names = Object.keys(entries).filter((n) => !n.endsWith("/") && !n.startsWith("__MACOSX"));
  const sms = names.find((n) => n.split("/").pop() === "SMSSpamCollection");
  // A readme beside the data (the UCI zip has one) is not data.
  const data = names.filter((n) => DATA_EXT.test(n) && !/^readme/i.test(n.split("/").pop()!));
  const name = sms ?? (data.length === 1 ? data[0] : undefined);
  if (!name) {
    throw new UserError(
      `${file}: the archive has no SMSSpamCollection file (found: ${
        names.join(", ") || "nothing"
      }); a zip must hold it or exactly one .csv, .tsv, .jsonl or .parquet file`,
    );
  }
  return { name, bytes: entries[name], where: `${file}!${name}` };
}

/**
 * Offset of the first byte that does not belong to a well-formed UTF-8 sequence (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or -1 when the whole buffer is UTF-8.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number, lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c === 0xE0) lo = 0xA0;
      if (c === 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c === 0xF0) lo = 0x90;
      if (c === 0xF4) hi = 0x8F;
    } else return i;
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      if (x === undefined || x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xBF)) return i;
    }
    i += n + 1;
  }
  return -1;
}

/** The text of a data file: BOM dropped, UTF-8 strictly unless `encoding` names another. */
export function decodeText(data: DataBytes, encoding = "utf-8"): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding, { fatal: true, ignoreBOM: false });
  } catch {
    throw new UserError(`--encoding "${encoding}" is not an encoding TextDecoder knows`);
  }
  if (decoder.encoding === "utf-8") {
    const bad = firstInvalidUtf8(data.bytes);
    if (bad >= 0) {
      let line = 1;
      for (let i = 0; i < bad; i++) if (data.bytes[i] === 0x0A) line++;
      const hex = data.bytes[bad].toString(16).toUpperCase().padStart(2, "0");
      throw new UserError(
        `${data.where}:${line}: byte 0x${hex} (offset ${bad}) is not UTF-8; ` +
          `give --encoding latin1 or windows-1252 if the file is in that encoding`,
      );
    }
  }
  try {
    return decoder.decode(data.bytes);
  } catch (e) {
    throw new UserError(`${data.where}: not valid ${encoding} (${(e as Error).message})`);
  }
}
