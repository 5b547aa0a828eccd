// Errors of the fabric lab. Each carries a message that reads as one line to a CLI user; the
// CLI prints `message` and nothing else (never a stack trace).

/** Base class: any problem building, checking or removing a lab. */
export class LabError extends Error {
  override name = 'LabError';
}

/** A lab with this id is already on the host (running, or left over from a crashed run). */
export class LabExistsError extends LabError {
  override name = 'LabExistsError';
  constructor(
    readonly id: string,
    readonly leftovers: string[],
  ) {
    super(
      `lab "${id}" already exists (or is left over from a crashed run): ${leftovers.slice(0, 4).join(', ')}${leftovers.length > 4 ? `, and ${leftovers.length - 4} more` : ''}; run 'cairn fabric lab down --id ${id}' to remove it`,
    );
  }
}

/** No lab with this id is on the host. */
export class LabNotFoundError extends LabError {
  override name = 'LabNotFoundError';
  constructor(readonly id: string) {
    super(`no lab "${id}" on this host; start one with 'cairn fabric lab up FILE --id ${id}'`);
  }
}

/** A program the lab needs is not installed. */
export class ToolMissingError extends LabError {
  override name = 'ToolMissingError';
  constructor(
    readonly tool: string,
    readonly pkg: string,
  ) {
    super(`${tool} is not installed (Debian package ${pkg}; scripts/setup.sh installs it)`);
  }
}

/** An FRR daemon did not start, or stopped; `logLines` are the daemon's own last log lines. */
export class FrrError extends LabError {
  override name = 'FrrError';
  constructor(
    message: string,
    readonly logLines: string[] = [],
  ) {
    super(logLines.length ? `${message}; its log says: ${logLines.join(' | ')}` : message);
  }
}

/** The rendered interfaces file uses something the lab cannot apply, or applying it failed. */
export class InterfacesError extends LabError {
  override name = 'InterfacesError';
}

/** corosync did not start in the lab; `logLines` are its own last log lines. */
export class CorosyncError extends LabError {
  override name = 'CorosyncError';
  constructor(
    message: string,
    readonly logLines: string[] = [],
  ) {
    super(logLines.length ? `${message}; its log says: ${logLines.join(' | ')}` : message);
  }
}
