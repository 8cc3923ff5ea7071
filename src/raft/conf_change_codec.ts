/**
 * The binary format of a {@linkcode ConfChange} inside a log entry (raft owns it, so the entry
 * data survives unchanged through storage and snapshots).
 *
 * Layout (all integers unsigned little-endian):
 * `u8 version (1) | u8 transition | u32 change count | count × (u8 type, f64 nodeId) |
 *  u32 context length | context bytes`.
 * Node ids are encoded as float64 so every safe integer id round-trips.
 *
 * @module
 */

import { RaftError } from "./errors.ts";
import {
  type ConfChange,
  ConfChangeTransition,
  type ConfChangeType,
  ConfChangeType as CCType,
} from "./types.ts";

const VERSION = 1;
const CHANGE_SIZE = 9;

/**
 * Encodes a membership change for a ConfChange entry.
 *
 * @param cc the change
 * @returns its bytes
 * @example
 * ```ts
 * import { decodeConfChange, encodeConfChange } from "./conf_change_codec.ts";
 * const b = encodeConfChange({ transition: 0, changes: [{ type: 0, nodeId: 4 }], context: new Uint8Array() });
 * decodeConfChange(b).changes[0].nodeId; // 4
 * ```
 */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const size = 2 + 4 + cc.changes.length * CHANGE_SIZE + 4 + cc.context.byteLength;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
  out[1] = cc.transition;
  view.setUint32(2, cc.changes.length, true);
  let pos = 6;
  for (const c of cc.changes) {
    out[pos] = c.type;
    view.setFloat64(pos + 1, c.nodeId, true);
    pos += CHANGE_SIZE;
  }
  view.setUint32(pos, cc.context.byteLength, true);
  out.set(cc.context, pos + 4);
  return out;
}

/**
 * Decodes the data of a ConfChange entry.
 *
 * @param b bytes written by {@linkcode encodeConfChange}
 * @returns the change
 * @throws {RaftError} ErrCorruptConfChange when the bytes are not a valid encoding
 */
export function decodeConfChange(b: Uint8Array): ConfChange {
  const corrupt = (facts: string) =>
    new RaftError("ErrCorruptConfChange", `Cannot decode conf change as it is corrupt: ${facts}`);
  if (b.byteLength < 10) throw corrupt(`length is ${b.byteLength}`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b[0] !== VERSION) throw corrupt(`version is ${b[0]}`);
  const transition = b[1];
  if (transition > ConfChangeTransition.JointExplicit) throw corrupt(`transition is ${transition}`);
  const count = view.getUint32(2, true);
  let pos = 6;
  if (pos + count * CHANGE_SIZE + 4 > b.byteLength) throw corrupt(`change count is ${count}`);
  const changes: { type: ConfChangeType; nodeId: number }[] = [];
  for (let i = 0; i < count; i++) {
    const type = b[pos];
    if (type > CCType.AddLearnerNode) throw corrupt(`change type is ${type}`);
    const nodeId = view.getFloat64(pos + 1, true);
    if (!Number.isSafeInteger(nodeId) || nodeId < 0) throw corrupt(`node id is ${nodeId}`);
    changes.push({ type: type as ConfChangeType, nodeId });
    pos += CHANGE_SIZE;
  }
  const ctxLen = view.getUint32(pos, true);
  pos += 4;
  if (pos + ctxLen !== b.byteLength) throw corrupt(`context length is ${ctxLen}`);
  return {
    transition: transition as ConfChangeTransition,
    changes,
    context: b.slice(pos, pos + ctxLen),
  };
}
