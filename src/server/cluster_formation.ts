/**
 * How a node finds its place in a cluster on start (docs/design/0007): it resumes the identity
 * stored in its data directory, or forms a new cluster with the other initial members
 * (`--cluster-init [--peers]`), or joins a running one (`--join`). Flags that contradict the
 * stored identity are refused before anything is modified.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { NodeFlags } from "../base/config_flags.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import { randomClusterId } from "../base/ids.ts";
import type { Engine } from "../storage/engine.ts";
import {
  type NodeIdentity,
  readNodeIdentity,
  readPendingIncarnation,
  writeNodeIdentity,
  writePendingIncarnation,
} from "./node_identity.ts";

/** What a join answers (see `Peer.Join`). */
export interface JoinAnswer {
  clusterId: string;
  nodeId: number;
  peerAddresses: Map<number, string>;
}

/** What a node tells the members when it joins or checks in. */
export interface JoinRecord {
  name: string;
  peerAddress: string;
  clientAddress: string;
  adminAddress: string;
  incarnation: string;
}

/** Asks the members at `addresses` to admit this node; resolves with the first answer. */
export type JoinCall = (addresses: string[], request: JoinRecord) => Promise<JoinAnswer>;

/**
 * Asks the members at `addresses` (best effort: unreachable ones are skipped) whether this node
 * may take part: resolves when none objects, rejects with the first refusal
 * (FAILED_PRECONDITION: another cluster, or the name taken by another incarnation).
 */
export type CheckCall = (
  addresses: string[],
  request: JoinRecord & { clusterId: string },
) => Promise<void>;

/** The outcome of {@linkcode establishIdentity}. */
export interface Placement {
  identity: NodeIdentity;
  /** Peer addresses known before node records are read from range 1, by node id. */
  initialPeers: Map<number, string>;
  /** How the node got here, for the start-up log. */
  how: "resumed" | "formed" | "joined";
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * The default node name for a peer address: every character outside `[A-Za-z0-9]` becomes `-`.
 *
 * @example
 * ```ts
 * import { deriveNodeName } from "./cluster_formation.ts";
 * deriveNodeName("127.0.0.1:7080"); // "127-0-0-1-7080"
 * ```
 */
export function deriveNodeName(peerAddress: string): string {
  return peerAddress.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "node";
}

/**
 * Checks a node name given with `--node-id`.
 *
 * @throws {RangeDbError} INVALID_ARGUMENT when it is not 1–63 letters, digits, `.`, `_`, `-`
 * starting with a letter or digit
 */
export function validateNodeName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      "Cannot use --node-id as a node name must be 1 to 63 letters, digits, '.', '_' or '-' " +
        `starting with a letter or digit: got '${name}'`,
    );
  }
}

/**
 * The cluster id of initial members given by `peers`: the same on every member, whatever the
 * order of the list.
 */
export function clusterIdForPeers(peers: readonly string[]): string {
  const sorted = [...new Set(peers)].sort();
  return createHash("sha256").update("rangedb-cluster:" + sorted.join(",")).digest("hex")
    .slice(0, 16);
}

/**
 * The node ids of initial members: positions in the sorted, de-duplicated peer list, from 1.
 *
 * @returns node id → peer address
 */
export function initialMemberIds(peers: readonly string[]): Map<number, string> {
  const sorted = [...new Set(peers)].sort();
  return new Map(sorted.map((address, i) => [i + 1, address]));
}

function idOf(members: Map<number, string>, address: string): number | undefined {
  for (const [id, a] of members) if (a === address) return id;
  return undefined;
}

function memberPeers(flags: NodeFlags, peerAddress: string): Map<number, string> {
  const members = initialMemberIds(flags.peers);
  if (idOf(members, peerAddress) === undefined) {
    throw new RangeDbError(
      ErrorCode.FAILED_PRECONDITION,
      "Cannot form a cluster as --peers does not include this node's --peer-address: " +
        `--peer-address is ${peerAddress}, --peers is ${flags.peers.join(",")}`,
    );
  }
  return members;
}

/**
 * Checks what the flags alone can tell, before the data directory is touched: `--peers` must
 * name this node's `--peer-address` (with a real port), and `--node-id` must be a valid name.
 *
 * @throws {RangeDbError} FAILED_PRECONDITION or INVALID_ARGUMENT naming the flag
 */
export function checkFormationFlags(flags: NodeFlags): void {
  if (flags.nodeId !== "") validateNodeName(flags.nodeId);
  if (flags.peers.length === 0) return;
  if (flags.peerAddress.endsWith(":0")) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      "Cannot form a cluster with --peers as --peer-address picks a random port: give the port " +
        `that the other members list, got ${flags.peerAddress}`,
    );
  }
  memberPeers(flags, flags.peerAddress);
}

async function resume(
  existing: NodeIdentity,
  flags: NodeFlags,
  record: JoinRecord,
  check: CheckCall,
): Promise<Placement> {
  const { peerAddress } = record;
  const dataDir = flags.dataDir;
  if (flags.nodeId !== "" && flags.nodeId !== existing.name) {
    throw new RangeDbError(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot start as --node-id differs from the name stored in ${dataDir}: ` +
        `--node-id is ${flags.nodeId}, the stored name is ${existing.name}`,
    );
  }
  let initialPeers = new Map<number, string>();
  if (flags.clusterInit && flags.peers.length > 0) {
    const expected = clusterIdForPeers(flags.peers);
    if (expected !== existing.clusterId) {
      throw new RangeDbError(
        ErrorCode.FAILED_PRECONDITION,
        `Cannot start as ${dataDir} belongs to another cluster: it holds cluster ` +
          `${existing.clusterId}, --peers ${flags.peers.join(",")} describes cluster ${expected}`,
      );
    }
    initialPeers = memberPeers(flags, peerAddress);
  }
  // A node restarted with --join (or --peers) must still belong to that cluster, under this
  // incarnation: the members refuse a directory of another cluster or a node that lost its data.
  const members = [...flags.join, ...flags.peers].filter((a) => a !== peerAddress);
  if (members.length > 0) {
    await check(members, {
      ...record,
      name: existing.name,
      incarnation: existing.incarnation,
      clusterId: existing.clusterId,
    });
  }
  initialPeers.set(existing.nodeId, peerAddress);
  return { identity: existing, initialPeers, how: "resumed" };
}

/**
 * Resumes, forms or joins, and persists the identity (before any Raft state is written, so a
 * crash in between leaves a directory that the same flags complete).
 *
 * @param engine the node's open engine
 * @param flags the node flags
 * @param peerAddress this node's real peer address (the port bound when 0 was asked for)
 * @param addresses this node's real client and admin addresses (sent with a join)
 * @param join how to call `Peer.Join` on the members of `--join`
 * @returns the identity and the peers known up front
 * @throws {RangeDbError} FAILED_PRECONDITION when the data directory holds no cluster and
 * neither --cluster-init nor --join is given, belongs to another cluster, or the flags contradict
 * it; INVALID_ARGUMENT for a bad --node-id; what `join` throws
 */
export async function establishIdentity(
  engine: Engine,
  flags: NodeFlags,
  peerAddress: string,
  addresses: { client: string; admin: string },
  calls: { join: JoinCall; check: CheckCall },
): Promise<Placement> {
  if (flags.nodeId !== "") validateNodeName(flags.nodeId);
  const existing = readNodeIdentity(engine);
  const record: JoinRecord = {
    name: flags.nodeId !== "" ? flags.nodeId : deriveNodeName(peerAddress),
    peerAddress,
    clientAddress: addresses.client,
    adminAddress: addresses.admin,
    incarnation: existing?.incarnation ?? readPendingIncarnation(engine) ?? crypto.randomUUID(),
  };
  if (existing !== undefined) return await resume(existing, flags, record, calls.check);

  const { name, incarnation } = record;
  let identity: NodeIdentity;
  let initialPeers: Map<number, string>;
  let how: Placement["how"];
  if (flags.clusterInit) {
    if (flags.peers.length > 0) {
      initialPeers = memberPeers(flags, peerAddress);
      const clusterId = clusterIdForPeers(flags.peers);
      // A fresh directory for an initial member: if the cluster already runs and knows this
      // name under another incarnation, this node lost its data and must not vote as before.
      await calls.check(flags.peers.filter((a) => a !== peerAddress), { ...record, clusterId });
      identity = {
        clusterId,
        nodeId: idOf(initialPeers, peerAddress)!,
        name,
        incarnation,
        bootstrapVoters: [...initialPeers.keys()],
        createdAt: Date.now(),
      };
    } else {
      initialPeers = new Map([[1, peerAddress]]);
      identity = {
        clusterId: randomClusterId(),
        nodeId: 1,
        name,
        incarnation,
        bootstrapVoters: [1],
        createdAt: Date.now(),
      };
    }
    how = "formed";
  } else if (flags.join.length > 0) {
    // Persisted first: if the cluster applies the join but the answer is lost, the retry must
    // announce the same incarnation.
    await writePendingIncarnation(engine, incarnation);
    const answer = await calls.join(flags.join, record);
    identity = {
      clusterId: answer.clusterId,
      nodeId: answer.nodeId,
      name,
      incarnation,
      bootstrapVoters: [],
      createdAt: Date.now(),
    };
    initialPeers = new Map(answer.peerAddresses);
    initialPeers.set(answer.nodeId, peerAddress);
    how = "joined";
  } else {
    throw new RangeDbError(
      ErrorCode.FAILED_PRECONDITION,
      `Cannot start the node as ${flags.dataDir} holds no cluster: pass --cluster-init to form ` +
        "one (with --peers for several nodes) or --join to join a running one",
    );
  }
  await writeNodeIdentity(engine, identity);
  return { identity, initialPeers, how };
}
