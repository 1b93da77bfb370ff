// Ctrl-C handling. The first Ctrl-C asks the run to stop at the next safe point (between two
// writes, or while waiting for DNS), so no file is left half-written; a second one exits at once.
export class Cancelled extends Error {
  override name = 'Cancelled';
  constructor() {
    super('cancelled');
  }
}

export interface Canceller {
  cancelled(): boolean;
  cancel(): void;
  /** Throws Cancelled when a cancel was asked for. */
  check(): void;
  /** Installs the SIGINT handler (returns the uninstaller). */
  trapSigint(onFirst?: () => void): () => void;
}

export function createCanceller(): Canceller {
  let flag = false;
  const c: Canceller = {
    cancelled: () => flag,
    cancel: () => {
      flag = true;
    },
    check: () => {
      if (flag) throw new Cancelled();
    },
    trapSigint(onFirst) {
      const handler = (): void => {
        if (flag) process.exit(130);
        flag = true;
        onFirst?.();
      };
      process.on('SIGINT', handler);
      process.on('SIGTERM', handler);
      return () => {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
      };
    },
  };
  return c;
}
