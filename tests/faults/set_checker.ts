/**
 * The checker of the set workload: unique inserts, and linearizable scans ("reads") of all of
 * them. With `mustFrom(k)` = the earlier of the insert's acknowledgement and the return of the
 * first read that saw `k`:
 *
 * 1. **lost**: an acknowledged insert missing from a read that started after the acknowledgement
 *    (the final reads start after every operation ended);
 * 2. **phantom**: a read holding a key that was never inserted, or whose insert definitely
 *    failed, or that it returned before the insert was even called, or a value other than the
 *    one inserted;
 * 3. **flicker**: a key that a read saw, missing from a read that started after that read
 *    returned. Inserts with an unknown outcome may be present or absent, but once seen they obey
 *    this rule too.
 * 4. **diverged**: the final reads of the last round (one per node) do not hold the same keys.
 *
 * Reads name their keys by insert id (`present`), so a long run's history stays small.
 *
 * @module
 */

/** What became of an insert; see workload.ts. */
export type SetOpStatus = "ok" | "failed" | "unknown";

/** One insert of a unique key. */
export interface SetInsert {
  /** Unique among inserts; reads refer to it. */
  id: number;
  key: string;
  value: string;
  /** `performance.now()` at the call. */
  call: number;
  /** At the acknowledgement; undefined unless `status` is ok. */
  ret: number | undefined;
  status: SetOpStatus;
  /** Who issued it, for reports ("w3 via node 1"). */
  by: string;
}

/** One successful linearizable scan of the run's prefix. */
export interface SetRead {
  /** Unique among reads. */
  id: number;
  call: number;
  ret: number;
  /** The inserts whose key (with its inserted value) the scan returned. */
  present: readonly number[];
  /** Keys the scan returned that no insert attempted. */
  strangers: readonly string[];
  /** Pairs whose value is not the inserted one: `[insert id, value]`. */
  wrongValues: readonly (readonly [number, string])[];
  /** Who issued it ("w2 via sdk", "final read of node 0"). */
  by: string;
  /** The round of final reads (0, 1, …); undefined for reads during the run. */
  final?: number;
}

/** The verdict of {@linkcode checkSet}. */
export interface SetVerdict {
  valid: boolean;
  anomalies: string[];
}

/** Anomalies listed per kind; the rest are counted. */
const MAX_PER_KIND = 20;

/**
 * Checks a set history against rules 1–4 of the module doc.
 *
 * @param inserts every insert attempted
 * @param reads every read that returned (failed reads constrain nothing)
 * @returns valid, or the anomalies, each naming the key, insert and reads involved
 * @example
 * ```ts
 * import { checkSet } from "./set_checker.ts";
 * const verdict = checkSet(
 *   [{ id: 1, key: "/s/0-0", value: "v", call: 0, ret: 1, status: "ok", by: "w0 via sdk" }],
 *   [{ id: 1, call: 2, ret: 3, present: [], strangers: [], wrongValues: [], by: "w1 via sdk" }],
 * );
 * verdict.valid; // false: the acknowledged insert is lost
 * ```
 */
export function checkSet(inserts: readonly SetInsert[], reads: readonly SetRead[]): SetVerdict {
  const byId = new Map(inserts.map((i) => [i.id, i]));
  const found = { lost: [] as string[], phantom: [] as string[], flicker: [] as string[] };
  const counts = { lost: 0, phantom: 0, flicker: 0 };
  const report = (kind: keyof typeof found, line: string) => {
    if (counts[kind]++ < MAX_PER_KIND) found[kind].push(line);
  };

  // Rule 2, and the first read that returned each key.
  const firstSeen = new Map<number, SetRead>();
  for (const read of reads) {
    for (const key of read.strangers) {
      report("phantom", `phantom: ${key} in ${describeRead(read)}, but no insert attempted it`);
    }
    for (const [id, value] of read.wrongValues) {
      const ins = byId.get(id);
      report(
        "phantom",
        `phantom: ${ins?.key ?? `insert #${id}`} holds "${value}" in ${describeRead(read)}, but ${
          ins === undefined ? "no insert" : `${describeInsert(ins)} wrote "${ins.value}"`
        }`,
      );
    }
    for (const id of read.present) {
      const ins = byId.get(id);
      if (ins === undefined) {
        report("phantom", `phantom: insert #${id} in ${describeRead(read)} was never attempted`);
        continue;
      }
      if (ins.status === "failed") {
        report(
          "phantom",
          `phantom: ${ins.key} in ${describeRead(read)}, but ${
            describeInsert(ins)
          } was definitely not applied`,
        );
      } else if (read.ret < ins.call) {
        report(
          "phantom",
          `phantom: ${ins.key} in ${describeRead(read)}, which returned before ${
            describeInsert(ins)
          } was called`,
        );
      }
      const first = firstSeen.get(id);
      if (first === undefined || read.ret < first.ret) firstSeen.set(id, read);
    }
  }

  // Rules 1 and 3: from mustFrom on, every read that starts includes the key.
  const ordered = [...reads].sort((a, b) => a.call - b.call);
  const must: { ins: SetInsert; from: number; seen: SetRead | undefined }[] = [];
  for (const ins of inserts) {
    const seen = firstSeen.get(ins.id);
    const acked = ins.status === "ok" && ins.ret !== undefined ? ins.ret : Infinity;
    const from = Math.min(acked, seen?.ret ?? Infinity);
    if (from !== Infinity) must.push({ ins, from, seen });
  }
  must.sort((a, b) => a.from - b.from);
  for (const read of ordered) {
    const present = new Set(read.present);
    for (const { ins, from, seen } of must) {
      if (from >= read.call) break;
      if (present.has(ins.id)) continue;
      if (ins.status === "ok" && ins.ret !== undefined && ins.ret < read.call) {
        report(
          "lost",
          `lost: ${ins.key} (${describeInsert(ins)}) missing from ${describeRead(read)}`,
        );
      } else {
        report(
          "flicker",
          `flicker: ${ins.key} (${describeInsert(ins)}) was in ${
            describeRead(seen!)
          }, missing from ${describeRead(read)}`,
        );
      }
    }
  }

  const anomalies: string[] = [];
  for (const kind of ["lost", "phantom", "flicker"] as const) {
    anomalies.push(...found[kind]);
    if (counts[kind] > MAX_PER_KIND) {
      anomalies.push(`${kind}: … ${counts[kind] - MAX_PER_KIND} more`);
    }
  }
  anomalies.push(...divergedFinalReads(reads, byId));
  return { valid: anomalies.length === 0, anomalies };
}

/** Rule 4: the last round's final reads must hold the same keys. */
function divergedFinalReads(
  reads: readonly SetRead[],
  byId: ReadonlyMap<number, SetInsert>,
): string[] {
  const finals = reads.filter((r) => r.final !== undefined);
  if (finals.length === 0) return [];
  const round = Math.max(...finals.map((r) => r.final!));
  const last = finals.filter((r) => r.final === round);
  const keysOf = (r: SetRead) =>
    new Set([...r.present.map((id) => byId.get(id)?.key ?? `#${id}`), ...r.strangers]);
  const base = keysOf(last[0]);
  const out: string[] = [];
  for (const other of last.slice(1)) {
    const keys = keysOf(other);
    const onlyBase = [...base].filter((k) => !keys.has(k));
    const onlyOther = [...keys].filter((k) => !base.has(k));
    if (onlyBase.length + onlyOther.length === 0) continue;
    out.push(
      `diverged: ${describeRead(last[0])} and ${describeRead(other)} differ: only in the first ${
        sample(onlyBase)
      }; only in the second ${sample(onlyOther)}`,
    );
  }
  return out;
}

function sample(keys: readonly string[]): string {
  if (keys.length === 0) return "nothing";
  const shown = keys.slice(0, 5).join(", ");
  return keys.length > 5 ? `${keys.length} keys (${shown}, …)` : shown;
}

/** E.g. `insert #17 by w3 via node 1 [1234.5 → 1240.2 ms]`. */
export function describeInsert(ins: SetInsert): string {
  const end = ins.status === "ok" ? `${ins.ret?.toFixed(1)} ms` : ins.status;
  return `insert #${ins.id} by ${ins.by} [${ins.call.toFixed(1)} → ${end}]`;
}

/** E.g. `read #4 by w2 via sdk [1300.0 → 1310.5 ms, 812 keys]`. */
export function describeRead(read: SetRead): string {
  const n = read.present.length + read.strangers.length;
  return `read #${read.id} by ${read.by} [${read.call.toFixed(1)} → ${
    read.ret.toFixed(1)
  } ms, ${n} keys]`;
}
