/**
 * `add-nodes <count> [voters=(1,2,3)] [learners=(4)] [checkquorum=true] [prevote=true]
 * [election=10] [heartbeat=1] [max-inflight=256] [max-size-per-msg=N] [max-uncommitted=N]
 * [read-only=safe|lease] [disable-forwarding=true]`: creates nodes with the next free ids. With
 * no voters the new nodes start with an empty membership (they join an existing cluster).
 *
 * @module
 */

import { MemoryStorage, ReadOnlyOption } from "../../../../../src/raft/mod.ts";
import type { ScenarioNodeOptions } from "../env.ts";
import { boolOption, type Handler, numberOption, numbers, option } from "./args.ts";

/** Handles `add-nodes`. */
export const addNodes: Handler = (env, block) => {
  const count = numbers(block)[0] ?? 1;
  const voters = (option(block, "voters") ?? []).map(Number);
  const learners = (option(block, "learners") ?? []).map(Number);
  const maxSizePerMsg = option(block, "max-size-per-msg");
  const options: ScenarioNodeOptions = {
    electionTick: numberOption(block, "election", 10),
    heartbeatTick: numberOption(block, "heartbeat", 1),
    maxInflightMsgs: numberOption(block, "max-inflight", 256),
    maxSizePerMsg: maxSizePerMsg === undefined ? undefined : Number(maxSizePerMsg[0]),
    maxUncommittedEntriesSize: numberOption(block, "max-uncommitted", 0),
    checkQuorum: boolOption(block, "checkquorum", false),
    preVote: boolOption(block, "prevote", false),
    readOnlyOption: option(block, "read-only")?.[0] === "lease"
      ? ReadOnlyOption.LeaseBased
      : ReadOnlyOption.Safe,
    disableProposalForwarding: boolOption(block, "disable-forwarding", false),
  };
  const first = Math.max(0, ...env.nodes.keys()) + 1;
  for (let id = first; id < first + count; id++) {
    const storage = voters.length === 0 && learners.length === 0
      ? new MemoryStorage()
      : MemoryStorage.fromConfState({
        voters,
        learners,
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      });
    const node = {
      id,
      storage,
      rawNode: undefined,
      options,
      confState: storage.snapshot().metadata.confState,
      randomValue: 0,
    };
    env.nodes.set(id, node);
    env.start(node);
  }
};
