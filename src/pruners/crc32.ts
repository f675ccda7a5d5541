/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) of a string's UTF-8 bytes: the checksum of
 * Python's `binascii.crc32` and zlib's `crc32`, so that Hyperband assigns a trial to the same
 * bracket as Optuna does for the same study name and trial number.
 */
const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

const encoder = new TextEncoder();

export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of encoder.encode(text)) crc = TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
