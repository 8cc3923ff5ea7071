/**
 * Applying the key-value commands: writes (puts and deletes, all or nothing) and
 * compare-and-swap, evaluated against the newest values as of the entry, including earlier
 * writes of the same batch ({@linkcode MvccBatch.newest}). The store answers their proposers
 * before the batch is written (`Replica.answerBeforeWrite`).
 *
 * @module
 */

import type { MvccWrite } from "../mvcc/mod.ts";
import { compareBytes } from "../base/key_encoding.ts";
import { type CommandResult, newResult, type RaftCommand } from "./command.ts";
import { addWrites, type CommandApply } from "./apply_context.ts";
import { timestampOf } from "./version.ts";

type Body<C extends string> = Extract<RaftCommand["body"], { case: C }>["value"];

/** Applies a Write: every op or none. `succeeded`: whether the first deleted key existed. */
export function applyWrite(a: CommandApply, body: Body<"write">): CommandResult {
  const timestamp = timestampOf(a.version);
  let deleted: boolean | undefined;
  const writes: MvccWrite[] = [];
  for (const op of body.ops) {
    if (op.delete) {
      deleted ??= a.ctx.mvcc.newest(op.key)?.value !== undefined;
      writes.push({ type: "delete", key: op.key, timestamp });
    } else {
      writes.push({ type: "put", key: op.key, value: op.value, timestamp });
    }
  }
  return addWrites(a.ctx, a.st.descriptor!, writes) ?? newResult({ succeeded: deleted ?? false });
}

/** Applies a CompareAndSwap against the key's newest value as of this entry. */
export function applyCompareAndSwap(
  a: CommandApply,
  cas: Body<"compareAndSwap">,
): CommandResult {
  const timestamp = timestampOf(a.version);
  const current = a.ctx.mvcc.newest(cas.key)?.value;
  const found = current !== undefined;
  const holds = cas.expectAbsent ? !found : found && compareBytes(current, cas.expected) === 0;
  if (!holds) {
    return newResult({ succeeded: false, found, actual: found ? current.slice() : undefined });
  }
  const write: MvccWrite = cas.delete
    ? { type: "delete", key: cas.key, timestamp }
    : { type: "put", key: cas.key, value: cas.value, timestamp };
  return addWrites(a.ctx, a.st.descriptor!, [write]) ?? newResult({ succeeded: true, found });
}
