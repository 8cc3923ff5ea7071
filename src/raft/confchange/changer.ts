/**
 * {@linkcode Changer}: computes the membership and progress that result from a configuration
 * change (simple, entering or leaving a joint configuration), without touching the current ones.
 *
 * @module
 */

import { RaftError } from "../errors.ts";
import { Inflights } from "../tracker/inflights.ts";
import { Progress } from "../tracker/progress.ts";
import type { ProgressMap, TrackerConfig } from "../tracker/progress_tracker.ts";
import { ConfChangeType, type NodeId } from "../types.ts";

/** One change of a {@linkcode ConfChange}. */
export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: NodeId;
}

/** A membership and its progress, as produced by the changer. */
export interface ChangeResult {
  config: TrackerConfig;
  progress: ProgressMap;
}

/** What the changer starts from. */
export interface ChangerBase {
  config: TrackerConfig;
  progress: ProgressMap;
  maxInflight: number;
  maxInflightBytes: number;
}

function invalid(action: string, facts: string): RaftError {
  return new RaftError("ErrInvalidConfChange", `Cannot ${action} as ${facts}`);
}

/**
 * Applies configuration changes to a copy of a tracker's membership and progress.
 *
 * @example
 * ```ts
 * import { Changer } from "./changer.ts";
 * import { ProgressTracker } from "../tracker/progress_tracker.ts";
 * const t = new ProgressTracker(256, 0);
 * const { config } = new Changer(t, 0).simple([{ type: 0, nodeId: 1 }]);
 * config.voters.toString(); // "(1)"
 * ```
 */
export class Changer {
  /**
   * @param base the current membership and progress (not modified)
   * @param lastIndex the log's last index, from which new members are probed
   */
  constructor(readonly base: ChangerBase, readonly lastIndex: number) {}

  /**
   * Enters a joint configuration: the current voters become the outgoing half and `ccs` are
   * applied to the incoming half.
   * @throws {RaftError} ErrInvalidConfChange when already joint or left without voters
   */
  enterJoint(autoLeave: boolean, ccs: readonly ConfChangeSingle[]): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (config.voters.isJoint()) {
      throw invalid("enter joint config", "the config is already joint");
    }
    if (config.voters.incoming.size === 0) {
      throw invalid("enter joint config", "it has no voters");
    }
    for (const id of config.voters.incoming.ids) config.voters.outgoing.ids.add(id);
    this.apply(config, progress, ccs);
    config.autoLeave = autoLeave;
    return checkAndReturn(config, progress);
  }

  /**
   * Leaves a joint configuration: the outgoing half is dropped, learners-next become learners and
   * nodes in neither half lose their progress.
   * @throws {RaftError} ErrInvalidConfChange when the config is not joint
   */
  leaveJoint(): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (!config.voters.isJoint()) {
      throw invalid("leave joint config", "the config is not joint");
    }
    for (const id of config.learnersNext) {
      config.learners.add(id);
      progress.get(id)!.isLearner = true;
    }
    config.learnersNext.clear();
    for (const id of config.voters.outgoing.ids) {
      if (!config.voters.incoming.ids.has(id) && !config.learners.has(id)) progress.delete(id);
    }
    config.voters.outgoing.ids.clear();
    config.autoLeave = false;
    return checkAndReturn(config, progress);
  }

  /**
   * Applies changes that alter at most one voter, outside a joint configuration.
   * @throws {RaftError} ErrInvalidConfChange when joint, when more than one voter changes or
   * when no voter is left
   */
  simple(ccs: readonly ConfChangeSingle[]): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (config.voters.isJoint()) {
      throw invalid("apply simple config change", "the config is joint");
    }
    this.apply(config, progress, ccs);
    const before = this.base.config.voters.incoming.ids;
    const after = config.voters.incoming.ids;
    let changed = 0;
    for (const id of before) if (!after.has(id)) changed++;
    for (const id of after) if (!before.has(id)) changed++;
    if (changed > 1) {
      throw invalid(
        "apply simple config change",
        `more than one voter changed without entering joint config: ${changed} changed`,
      );
    }
    return checkAndReturn(config, progress);
  }

  private apply(config: TrackerConfig, progress: ProgressMap, ccs: readonly ConfChangeSingle[]) {
    for (const cc of ccs) {
      if (cc.nodeId === 0) continue;
      switch (cc.type) {
        case ConfChangeType.AddNode:
          this.makeVoter(config, progress, cc.nodeId);
          break;
        case ConfChangeType.AddLearnerNode:
          this.makeLearner(config, progress, cc.nodeId);
          break;
        case ConfChangeType.RemoveNode:
          remove(config, progress, cc.nodeId);
          break;
        default:
          throw invalid("apply config change", `its type is unknown: ${cc.type}`);
      }
    }
    if (config.voters.incoming.size === 0) {
      throw invalid("apply config change", "it removes all voters");
    }
  }

  private makeVoter(config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
    const pr = progress.get(id);
    if (pr === undefined) {
      this.initProgress(config, progress, id, false);
      return;
    }
    pr.isLearner = false;
    config.learners.delete(id);
    config.learnersNext.delete(id);
    config.voters.incoming.ids.add(id);
  }

  private makeLearner(config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
    const pr = progress.get(id);
    if (pr === undefined) {
      this.initProgress(config, progress, id, true);
      return;
    }
    if (pr.isLearner) return;
    // Drop the voter from the incoming half but keep its progress.
    remove(config, progress, id);
    progress.set(id, pr);
    // A node still voting in the outgoing half can only become a learner once the joint config
    // is left; otherwise it becomes one right away.
    if (config.voters.outgoing.ids.has(id)) {
      config.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      config.learners.add(id);
    }
  }

  private initProgress(
    config: TrackerConfig,
    progress: ProgressMap,
    id: NodeId,
    isLearner: boolean,
  ): void {
    if (isLearner) config.learners.add(id);
    else config.voters.incoming.ids.add(id);
    // Probing starts at the last index; a new member counts as active so that CheckQuorum does
    // not depose the leader before the member had a chance to answer.
    progress.set(
      id,
      new Progress(
        Math.max(this.lastIndex, 1),
        new Inflights(this.base.maxInflight, this.base.maxInflightBytes),
        isLearner,
        true,
      ),
    );
  }

  private checkAndCopy(): ChangeResult {
    const config = this.base.config.clone();
    const progress: ProgressMap = new Map();
    for (const [id, pr] of this.base.progress) progress.set(id, pr.clone());
    return checkAndReturn(config, progress);
  }
}

function remove(config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
  if (!progress.has(id)) return;
  config.voters.incoming.ids.delete(id);
  config.learners.delete(id);
  config.learnersNext.delete(id);
  // A node still voting in the outgoing half keeps its progress.
  if (!config.voters.outgoing.ids.has(id)) progress.delete(id);
}

function checkAndReturn(config: TrackerConfig, progress: ProgressMap): ChangeResult {
  const broken = (facts: string) => invalid("change config", `an invariant breaks: ${facts}`);
  for (
    const ids of [
      config.voters.incoming.ids,
      config.voters.outgoing.ids,
      config.learners,
      config.learnersNext,
    ]
  ) {
    for (const id of ids) {
      if (!progress.has(id)) throw broken(`no progress for ${id}`);
    }
  }
  for (const id of config.learnersNext) {
    if (!config.voters.outgoing.ids.has(id)) throw broken(`${id} is in learnersNext, not outgoing`);
    if (progress.get(id)!.isLearner) throw broken(`${id} is in learnersNext but a learner`);
  }
  for (const id of config.learners) {
    if (config.voters.outgoing.ids.has(id)) throw broken(`${id} is a learner and outgoing voter`);
    if (config.voters.incoming.ids.has(id)) throw broken(`${id} is a learner and incoming voter`);
    if (!progress.get(id)!.isLearner) throw broken(`${id} is a learner without the learner flag`);
  }
  if (!config.voters.isJoint()) {
    if (config.learnersNext.size > 0) throw broken("learnersNext is set outside a joint config");
    if (config.autoLeave) throw broken("autoLeave is set outside a joint config");
  }
  return { config, progress };
}
