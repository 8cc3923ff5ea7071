/**
 * The identity of a node, persisted in the `local` keyspace of its engine: which cluster it
 * belongs to and which node it is. Written once when the node initialises a cluster (or, later,
 * joins one) and read back on every restart, so that restarting with the same flags rejoins as
 * the same node.
 *
 * @module
 */
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { Engine } from "../storage/engine.ts";

/** Who this node is. */
export interface NodeIdentity {
  /** Random id of the cluster, fixed when the cluster was initialised. */
  clusterId: string;
  /** Id of this node within the cluster (1 for the node that initialised it). */
  nodeId: number;
  /** Wall time (ms) when the identity was written. */
  createdAt: number;
}

const IDENTITY_KEY = new TextEncoder().encode("node/identity");

/**
 * Reads the node identity, or returns undefined for a data directory that was never initialised.
 *
 * @throws {RangeDbError} CORRUPTION when the record exists but cannot be parsed
 */
export function readNodeIdentity(engine: Engine): NodeIdentity | undefined {
  const raw = engine.get("local", IDENTITY_KEY);
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(raw));
    if (
      typeof parsed.clusterId !== "string" || !Number.isSafeInteger(parsed.nodeId) ||
      typeof parsed.createdAt !== "number"
    ) {
      throw new Error("missing or mistyped fields");
    }
    return { clusterId: parsed.clusterId, nodeId: parsed.nodeId, createdAt: parsed.createdAt };
  } catch (cause) {
    throw new RangeDbError(
      ErrorCode.CORRUPTION,
      "Cannot read the node identity as its record is malformed: key local/node/identity",
      { cause },
    );
  }
}

/** Persists the node identity durably (fsync). */
export async function writeNodeIdentity(engine: Engine, identity: NodeIdentity): Promise<void> {
  const batch = engine.batch();
  batch.put("local", IDENTITY_KEY, new TextEncoder().encode(JSON.stringify(identity)));
  await engine.write(batch, { sync: true });
}
