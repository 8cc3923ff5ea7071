/**
 * The identity of a node, persisted in the `local` keyspace of its engine: which cluster it
 * belongs to, which node it is, and (for an initial member) the voters it formed the cluster
 * with. Written once, before any Raft state, when the node forms or joins a cluster, and read
 * back on every restart, so that restarting with the same flags rejoins as the same node.
 *
 * @module
 */
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { Engine } from "../storage/engine.ts";

/** Who this node is. */
export interface NodeIdentity {
  /** Id of the cluster, fixed when the cluster was formed. */
  clusterId: string;
  /** Numeric id of this node within the cluster; also its replica id in every range. */
  nodeId: number;
  /** The node's name (`--node-id`). */
  name: string;
  /**
   * A random id of this data directory, made when it was first initialised. A node that lost
   * its data comes back with a new one, and the cluster refuses it under its old name (Raft
   * must never count a voter that forgot its log). Empty for identities written before it
   * existed.
   */
  incarnation: string;
  /**
   * For an initial member: the node ids of all initial members, which its range 1 starts with.
   * Empty for a node that joined (it receives range 1 by snapshot).
   */
  bootstrapVoters: number[];
  /** Wall time (ms) when the identity was written. */
  createdAt: number;
}

const IDENTITY_KEY = new TextEncoder().encode("node/identity");

function malformed(cause: unknown): RangeDbError {
  return new RangeDbError(
    ErrorCode.CORRUPTION,
    "Cannot read the node identity as its record is malformed: key local/node/identity",
    { cause },
  );
}

/**
 * Reads the node identity, if one was written.
 *
 * @param engine the node's engine
 * @returns the identity, or undefined for a fresh data directory
 * @throws {RangeDbError} CORRUPTION when the record is malformed
 */
export function readNodeIdentity(engine: Engine): NodeIdentity | undefined {
  const raw = engine.get("local", IDENTITY_KEY);
  if (raw === undefined) return undefined;
  let parsed;
  try {
    parsed = JSON.parse(new TextDecoder().decode(raw));
  } catch (cause) {
    throw malformed(cause);
  }
  const ok = typeof parsed === "object" && parsed !== null &&
    typeof parsed.clusterId === "string" && Number.isSafeInteger(parsed.nodeId) &&
    typeof parsed.createdAt === "number" &&
    (parsed.name === undefined || typeof parsed.name === "string") &&
    (parsed.incarnation === undefined || typeof parsed.incarnation === "string") &&
    (parsed.bootstrapVoters === undefined ||
      (Array.isArray(parsed.bootstrapVoters) &&
        parsed.bootstrapVoters.every((v: unknown) => Number.isSafeInteger(v))));
  if (!ok) throw malformed(new Error("missing or mistyped fields"));
  return {
    clusterId: parsed.clusterId,
    nodeId: parsed.nodeId,
    // Identities written by the single-node foundation had neither field.
    name: parsed.name ?? `node-${parsed.nodeId}`,
    incarnation: parsed.incarnation ?? "",
    bootstrapVoters: parsed.bootstrapVoters ?? [parsed.nodeId],
    createdAt: parsed.createdAt,
  };
}

/** Persists the node identity durably (fsync). */
export async function writeNodeIdentity(engine: Engine, identity: NodeIdentity): Promise<void> {
  const batch = engine.batch();
  batch.put("local", IDENTITY_KEY, new TextEncoder().encode(JSON.stringify(identity)));
  await engine.write(batch, { sync: true });
}

const PENDING_INCARNATION_KEY = new TextEncoder().encode("node/pending_incarnation");

/**
 * The incarnation a joining node announced before its identity was written, if any: a join that
 * the cluster applied but whose answer was lost must be retried with the same incarnation, or the
 * cluster would take the node for one that lost its data.
 */
export function readPendingIncarnation(engine: Engine): string | undefined {
  const raw = engine.get("local", PENDING_INCARNATION_KEY);
  return raw === undefined ? undefined : new TextDecoder().decode(raw);
}

/** Persists the incarnation a join is about to announce (fsync). */
export async function writePendingIncarnation(engine: Engine, incarnation: string): Promise<void> {
  const batch = engine.batch();
  batch.put("local", PENDING_INCARNATION_KEY, new TextEncoder().encode(incarnation));
  await engine.write(batch, { sync: true });
}
