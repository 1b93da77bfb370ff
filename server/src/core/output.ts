// Batched socket output: everything queued for a stream during one event-loop turn goes out in
// one write. Routing one chat message costs a write syscall (and, with TLS, a record and its
// MAC) per recipient; under load many stanzas for the same stream arrive within a turn, and
// writing each separately was measured to cost about 25% of throughput.
//
// On TLS, a turn's output of a few KiB goes out in slices instead, each after the previous one
// reached the kernel. Node's TLS output buffer (NodeBIO) starts at 1 KiB; the first time more
// than that waits in it, it adds a 16 KiB buffer and keeps it for as long as the connection
// lives. Every login writes about 1.5 KiB at once (the stream features after STARTTLS), so
// without slices each idle session carried those 16 KiB (bench/tls-idle.ts shows it on a bare
// Node server). Larger outputs go at once: a session that receives that much is not idle.
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';

/** Plaintext per slice: a TLS record of it (up to 29 bytes of framing) fits in 1 KiB. */
export const TLS_SLICE_BYTES = 960;
/** Outputs up to this size are sliced; beyond it one write is cheaper than the turns it takes. */
export const TLS_SLICED_MAX_BYTES = 4096;

const dirty = new Set<Output>();
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  for (const o of dirty) o.drain();
  dirty.clear();
}

export class Output {
  private parts: string[] = [];
  /** Characters in `parts` (counted only while slicing). */
  private queued = 0;
  private closed = false;
  /** What remains of a sliced output whose current slice has not reached the kernel yet. */
  private slicing?: { buf: Buffer; off: number };
  /** The TLS socket once had more than a slice to send at once (its 16 KiB buffer exists). */
  private grown = false;
  /** Bumped when slicing is abandoned, so a late write callback does nothing. */
  private sliceRun = 0;

  constructor(
    private socket: Duplex,
    /** Called when the peer does not read and the unsent data passes `maxBuffered` bytes. */
    private readonly onOverflow: () => void,
    private readonly maxBuffered: number,
  ) {}

  /** Switches to another socket (STARTTLS: the TLS wrapper of the same connection). */
  replaceSocket(socket: Duplex): void {
    this.flush();
    this.socket = socket;
    this.grown = false;
  }

  write(data: string): void {
    if (this.closed) return;
    this.parts.push(data);
    if (this.slicing) {
      // The end of the current slices picks it up, unless the peer is slow to read and output
      // piles up: then everything goes to the socket, whose buffer limit (onOverflow) applies.
      this.queued += data.length;
      if (this.queued > TLS_SLICED_MAX_BYTES) this.flush();
      return;
    }
    dirty.add(this);
    if (!scheduled) {
      scheduled = true;
      // setImmediate runs after the I/O callbacks of this turn, so a burst of reads is batched.
      setImmediate(flushAll);
    }
  }

  /** Writes what is queued now, slices included (before a TLS upgrade or a close). */
  flush(): void {
    const rest = this.slicing;
    if (rest) {
      this.slicing = undefined;
      this.sliceRun++;
      if (!this.closed && !this.socket.destroyed) this.socket.write(rest.buf.subarray(rest.off));
    }
    this.writeQueued(false);
  }

  /** The end of a turn: writes what was queued, in slices when that keeps the TLS buffer small. */
  drain(): void {
    if (!this.slicing) this.writeQueued(true);
  }

  /** Drops anything not yet written and refuses further writes. */
  close(): void {
    this.closed = true;
    this.parts = [];
    this.queued = 0;
    this.slicing = undefined;
    this.sliceRun++;
    dirty.delete(this);
  }

  private writeQueued(maySlice: boolean): void {
    if (this.parts.length === 0) return;
    const data = this.parts.length === 1 ? this.parts[0]! : this.parts.join('');
    this.parts = [];
    this.queued = 0;
    if (this.closed || this.socket.destroyed) return;
    if (data.length > TLS_SLICE_BYTES && !this.grown && this.socket instanceof TLSSocket) {
      // Slicing only helps while nothing waits in the socket already (a reader that keeps up).
      const buf = Buffer.from(data);
      if (maySlice && buf.length <= TLS_SLICED_MAX_BYTES && this.socket.writableLength === 0) {
        this.slicing = { buf, off: 0 };
        this.nextSlice(++this.sliceRun);
        return;
      }
      // Node's buffer grows now and stays: from here on slices would cost writes for nothing.
      this.grown = true;
      this.socket.write(buf);
    } else this.socket.write(data);
    if (this.socket.writableLength > this.maxBuffered) this.onOverflow();
  }

  private nextSlice(run: number): void {
    const s = this.slicing;
    if (!s || run !== this.sliceRun) return;
    const end = Math.min(s.off + TLS_SLICE_BYTES, s.buf.length);
    const slice = s.buf.subarray(s.off, end);
    s.off = end;
    this.socket.write(slice, (err) => {
      if (run !== this.sliceRun) return;
      if (err) {
        this.slicing = undefined;
        return;
      }
      if (s.off < s.buf.length) this.nextSlice(run);
      else {
        // Done: what was queued meanwhile goes out now, in slices again if it is that size.
        this.slicing = undefined;
        this.drain();
      }
    });
  }
}
