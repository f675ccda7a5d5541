/**
 * The streams and environment a CLI command writes to, passed in so commands stay testable.
 */

/** A writable text sink (process.stdout/stderr or a test buffer). */
export interface TextSink {
  write(chunk: string): boolean;
  readonly isTTY?: boolean;
}

export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** Working directory that relative command-line paths resolve against. */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The process's own streams and environment. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env };
}
