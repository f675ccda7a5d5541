/**
 * A check the loader runs on a native binary before `require` hands it to the dynamic linker:
 * whether an ELF shared object (Linux and the BSDs) is shorter than its own headers say.
 *
 * Why: the dynamic linker maps a shared object's segments with mmap, and pages that lie past the
 * end of the file raise SIGBUS when touched. A truncated `.node` (an interrupted copy or download,
 * a full disk during the build) therefore does not fail `require` with an error: it kills the
 * process ("Bus error", exit 135) before the loader can fall back to the TypeScript backend.
 * The check reads the ELF header (System V ABI, "ELF header" and "Program header" chapters;
 * 32- and 64-bit, either byte order): the program header table, every PT_LOAD segment's file range
 * and the section header table must end within the file. Other formats (Mach-O, PE) and files too
 * short or too foreign to be ELF are left to the linker, which rejects them with an error.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const PT_LOAD = 1;
/** At most this many program headers are read (real shared objects have about ten). */
const MAX_PROGRAM_HEADERS = 4096;

/**
 * Why `file` cannot be a complete ELF shared object (it ends before the data its headers
 * describe), or null when it is complete, is not ELF, or cannot be read (the linker then reports
 * the problem itself). Never throws.
 */
export function truncatedBinaryProblem(file: string): string | null {
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const header = Buffer.alloc(64);
    const got = readSync(fd, header, 0, 64, 0);
    if (got < 16 || !ELF_MAGIC.every((b, i) => header[i] === b)) return null;
    const is64 = header[4] === 2;
    const little = header[5] !== 2;
    const headerSize = is64 ? 64 : 52;
    if (got < headerSize) return `${file} is truncated (${size} bytes, shorter than its ELF header)`;
    const u16 = (buf: Buffer, at: number): number => (little ? buf.readUInt16LE(at) : buf.readUInt16BE(at));
    const u32 = (buf: Buffer, at: number): number => (little ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
    const word = (buf: Buffer, at: number): number =>
      is64 ? Number(little ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at)) : u32(buf, at);
    const phoff = word(header, is64 ? 0x20 : 0x1c);
    const shoff = word(header, is64 ? 0x28 : 0x20);
    const phentsize = u16(header, is64 ? 0x36 : 0x2a);
    const phnum = u16(header, is64 ? 0x38 : 0x2c);
    const shentsize = u16(header, is64 ? 0x3a : 0x2e);
    const shnum = u16(header, is64 ? 0x3c : 0x30);
    const needed: number[] = [];
    if (shnum > 0) needed.push(shoff + shnum * shentsize);
    const count = Math.min(phnum, MAX_PROGRAM_HEADERS);
    if (count > 0) {
      const tableEnd = phoff + count * phentsize;
      needed.push(tableEnd);
      if (tableEnd <= size && phentsize >= (is64 ? 56 : 32)) {
        const table = Buffer.alloc(count * phentsize);
        readSync(fd, table, 0, table.length, phoff);
        for (let i = 0; i < count; i++) {
          const at = i * phentsize;
          if (u32(table, at) !== PT_LOAD) continue;
          const offset = word(table, at + (is64 ? 8 : 4));
          const fileSize = word(table, at + (is64 ? 32 : 16));
          needed.push(offset + fileSize);
        }
      }
    }
    const end = Math.max(0, ...needed);
    return end > size ? `${file} is truncated (${size} bytes; its ELF headers describe ${end})` : null;
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
