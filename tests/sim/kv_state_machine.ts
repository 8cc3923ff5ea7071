/**
 * The replicated key-value state machine of the simulation: registers with put, get and
 * compare-and-swap, and a session table that makes retried commands idempotent.
 *
 * Idempotency: every client has at most one command outstanding and numbers them; the session
 * table keeps each client's highest applied sequence number and its result. A retry of that
 * command returns the recorded result; an older command (given up by its client, arriving late)
 * is ignored, so no command ever takes effect twice.
 *
 * @module
 */

/** A command a client proposes through the log. */
export type KvCommand =
  | { kind: "put"; client: number; seq: number; key: string; value: string }
  | { kind: "get"; client: number; seq: number; key: string }
  | {
    kind: "cas";
    client: number;
    seq: number;
    key: string;
    expected: string | null;
    value: string;
  };

/** The outcome of a command, the same on every replica. */
export type KvResult =
  | { kind: "put" }
  | { kind: "get"; value: string | null }
  | { kind: "cas"; ok: boolean };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Serializes a command as entry data. */
export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

/** Parses entry data written by {@linkcode encodeCommand}. */
export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(decoder.decode(data)) as KvCommand;
}

interface Session {
  seq: number;
  result: KvResult;
}

/** The state machine of one replica. */
export class KvStateMachine {
  private readonly data = new Map<string, string>();
  private readonly sessions = new Map<number, Session>();

  /**
   * Applies a committed command.
   *
   * @returns its result, or undefined for a stale command that was ignored
   */
  apply(cmd: KvCommand): KvResult | undefined {
    const session = this.sessions.get(cmd.client);
    if (session !== undefined && cmd.seq <= session.seq) {
      return cmd.seq === session.seq ? session.result : undefined;
    }
    let result: KvResult;
    switch (cmd.kind) {
      case "put":
        this.data.set(cmd.key, cmd.value);
        result = { kind: "put" };
        break;
      case "get":
        result = { kind: "get", value: this.data.get(cmd.key) ?? null };
        break;
      case "cas": {
        const ok = (this.data.get(cmd.key) ?? null) === cmd.expected;
        if (ok) this.data.set(cmd.key, cmd.value);
        result = { kind: "cas", ok };
        break;
      }
    }
    this.sessions.set(cmd.client, { seq: cmd.seq, result });
    return result;
  }

  /** The current value of `key` (for ReadIndex reads). */
  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  /** A canonical text form of the whole state (sorted), used for snapshots and digests. */
  private canonical(): string {
    const data = [...this.data].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const sessions = [...this.sessions].sort((a, b) => a[0] - b[0]);
    return JSON.stringify({ data, sessions });
  }

  /** Snapshot data of the whole state. */
  serialize(): Uint8Array {
    return encoder.encode(this.canonical());
  }

  /** A 32-bit FNV-1a digest of the canonical state; equal states give equal digests. */
  digest(): number {
    const s = this.canonical();
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return h >>> 0;
  }

  /** Rebuilds a state machine from snapshot data (empty data is the empty state). */
  static restore(bytes: Uint8Array): KvStateMachine {
    const sm = new KvStateMachine();
    if (bytes.byteLength === 0) return sm;
    const parsed = JSON.parse(decoder.decode(bytes)) as {
      data: [string, string][];
      sessions: [number, Session][];
    };
    for (const [k, v] of parsed.data) sm.data.set(k, v);
    for (const [c, s] of parsed.sessions) sm.sessions.set(c, s);
    return sm;
  }
}
