/**
 * The command handlers of scenario files, by command name.
 *
 * @module
 */

import { addNodes } from "./add_nodes.ts";
import type { Handler } from "./args.ts";
import { campaign } from "./campaign.ts";
import { compact } from "./compact.ts";
import { confState } from "./conf_state.ts";
import { crash, restart } from "./crash_restart.ts";
import { deliverMsgs } from "./deliver_msgs.ts";
import { logLevel } from "./log_level.ts";
import { duplicateMsgs, releaseMsgs, stashMsgs } from "./message_faults.ts";
import { heal, isolate, partition } from "./partition.ts";
import { processReady } from "./process_ready.ts";
import { propose } from "./propose.ts";
import { proposeConfChange } from "./propose_conf_change.ts";
import { raftLog } from "./raft_log.ts";
import { raftState } from "./raft_state.ts";
import { readIndex } from "./read_index.ts";
import { setRandom } from "./set_random.ts";
import { stabilize } from "./stabilize.ts";
import { status } from "./status.ts";
import { tickElection, tickHeartbeat } from "./tick.ts";
import { transferLeadership } from "./transfer_leadership.ts";

export type { Handler } from "./args.ts";

/** Every command a scenario file may use. */
export const HANDLERS: Readonly<Record<string, Handler>> = {
  "add-nodes": addNodes,
  "campaign": campaign,
  "compact": compact,
  "conf-state": confState,
  "crash": crash,
  "deliver-msgs": deliverMsgs,
  "duplicate-msgs": duplicateMsgs,
  "heal": heal,
  "isolate": isolate,
  "log-level": logLevel,
  "partition": partition,
  "process-ready": processReady,
  "propose": propose,
  "propose-conf-change": proposeConfChange,
  "raft-log": raftLog,
  "raft-state": raftState,
  "read-index": readIndex,
  "release-msgs": releaseMsgs,
  "restart": restart,
  "set-random": setRandom,
  "stabilize": stabilize,
  "stash-msgs": stashMsgs,
  "status": status,
  "tick-election": tickElection,
  "tick-heartbeat": tickHeartbeat,
  "transfer-leadership": transferLeadership,
};
