/**
 * The option and result types of the SDK.
 *
 * @module
 */

/** Options of {@linkcode connect}. */
export interface ConnectOptions {
  /** `host:port` client addresses of one or more nodes. */
  endpoints: string[];
  /** Default budget of every call, retries included, and of connecting. @default {5000} */
  timeoutMs?: number;
  /** Cancels connecting. */
  signal?: AbortSignal;
}

/** Options every call accepts (as its last argument). */
export interface CallOptions {
  /** Cancels the call; it then fails with a CancelledError. */
  signal?: AbortSignal;
  /** This call's budget, retries included. @default the client's timeoutMs */
  timeoutMs?: number;
}

/** Options of reads. */
export interface ReadOptions extends CallOptions {
  /**
   * Let any node answer from its own applied state, without confirming leadership: faster, but
   * may miss recent writes. @default {false} (linearizable)
   */
  serializable?: boolean;
}

/** Options of {@linkcode RangeDbClient.range}. */
export interface RangeOptions extends ReadOptions {
  /** At most this many keys. @default {0} (no limit) */
  limit?: number;
  /** Descending key order. @default {false} */
  reverse?: boolean;
  /** Omit values (each pair's value is empty). @default {false} */
  keysOnly?: boolean;
  /**
   * How long to wait for each chunk after the first before the scan fails with a TimeoutError
   * (a server that stopped sending). @default {30000}
   */
  idleTimeoutMs?: number;
}

/** The outcome of a write. */
export interface WriteResult {
  /** The commit version of the write. */
  version: bigint;
}

/** A value with the version that wrote it. */
export interface VersionedValue {
  value: Uint8Array;
  version: bigint;
}

/** One pair of a range scan. */
export interface KeyValuePair {
  key: Uint8Array;
  value: Uint8Array;
  version: bigint;
}

/** One pair of a range scan, decoded as UTF-8. */
export interface TextKeyValuePair {
  key: string;
  value: string;
  version: bigint;
}

/** The full outcome of a compare-and-swap. */
export interface CompareAndSwapOutcome {
  /** Whether the value was written. */
  succeeded: boolean;
  /** Whether the key existed when compared. */
  found: boolean;
  /** The value found when the swap failed; null when the key did not exist or it succeeded. */
  actual: Uint8Array | null;
  /** The version of the write when it succeeded; 0n otherwise. */
  version: bigint;
}
