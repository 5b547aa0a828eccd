/** Core dump collection could not be set up or torn down (core_pattern, the spool dir). */
export class CoreDumpError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CoreDumpError';
  }
}
