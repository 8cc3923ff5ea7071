/**
 * Keys as people read them: printable ASCII as it is, every other byte (and the backslash) as an
 * escape (`\xff`, `\\`), so that range bounds such as `\xff` or binary split keys show on one line
 * without ambiguity. Used by the admin API's readable renderings and the CLI's tables.
 *
 * @module
 */

/**
 * Renders `bytes` as printable text: bytes 0x20–0x7e stay, the backslash becomes `\\`, any other
 * byte `\xHH`.
 *
 * @example
 * ```ts
 * import { keyText } from "./key_text.ts";
 * keyText(new TextEncoder().encode("/user/1")); // "/user/1"
 * keyText(Uint8Array.of(0xff)); // "\\xff"
 * ```
 *
 * @param bytes the key
 * @returns the text
 */
export function keyText(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) {
    if (b === 0x5c) out += "\\\\";
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return out;
}
