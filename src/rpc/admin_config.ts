/**
 * The cluster settings requests of the Admin service: GetConfig and SetConfig. Both read range 1
 * (through this node's replica, else through one of range 1's nodes, Forward "GetConfig" /
 * "SetConfig"); SetConfig validates the new value alone and together with the stored settings
 * (`withClusterSetting`) before it writes `_/cluster/config/<name>` on range 1. Writing a value
 * twice is harmless, so a SetConfig retried on another node after an unclear failure is safe.
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import { type ClusterSettingName, SETTINGS } from "../base/config.ts";
import {
  CLUSTER_SETTING_NAMES,
  formatClusterSetting,
  parseClusterSetting,
} from "../base/config_cluster.ts";
import { ErrorCode, RangeDbError } from "../base/errors.ts";
import type { KvStore } from "../kv/kv_store.ts";
import { settingName } from "../kv/cluster_settings.ts";
import {
  type ClusterSetting,
  ClusterSettingSchema,
  type GetConfigRequest,
  GetConfigRequestSchema,
  type GetConfigResponse,
  GetConfigResponseSchema,
  type SetConfigRequest,
  SetConfigRequestSchema,
  type SetConfigResponse,
  SetConfigResponseSchema,
} from "../../proto/gen/rangedb/v1/admin_pb.ts";
import type { CallContext } from "./kv_request_routing.ts";
import { RangeLocator, type RangeLocatorDeps } from "./range_locator.ts";

/** Dependencies of {@linkcode AdminConfig}: the store, and what reaches range 1's nodes. */
export type AdminConfigDeps = RangeLocatorDeps;

/**
 * The wire form of one setting as range 1 stores it.
 *
 * @param name the setting
 * @param stored the stored settings (name → text); absent names have their default
 * @returns the setting with its value in effect, default and whether it is set
 */
export function clusterSettingOf(
  name: ClusterSettingName,
  stored: ReadonlyMap<string, string>,
): ClusterSetting {
  const fallback = formatClusterSetting(name, SETTINGS[name].default as never);
  const raw = stored.get(name);
  let value = fallback;
  if (raw !== undefined) {
    try {
      value = formatClusterSetting(name, parseClusterSetting(name, raw));
    } catch {
      value = raw; // a newer version's value: shown as stored
    }
  }
  return create(ClusterSettingSchema, {
    name,
    value,
    defaultValue: fallback,
    isSet: raw !== undefined,
  });
}

/**
 * The GetConfig and SetConfig logic.
 *
 * @example
 * ```ts ignore
 * const config = new AdminConfig({ store, peers: forwarder, clock, logger });
 * await config.setConfig(create(SetConfigRequestSchema, { name: "range_max_bytes", value: "1MiB" }), ctx);
 * ```
 */
export class AdminConfig {
  readonly #store: KvStore;
  readonly #locator: RangeLocator;

  /** @param deps store, peer caller, clock and logger */
  constructor(deps: AdminConfigDeps) {
    this.#store = deps.store;
    this.#locator = new RangeLocator(deps);
  }

  /** One setting, or every cluster setting when the name is empty. */
  async getConfig(req: GetConfigRequest, ctx: CallContext): Promise<GetConfigResponse> {
    const names = req.name === "" ? CLUSTER_SETTING_NAMES : [settingName(req.name)];
    return await this.#locator.onRange1(
      {
        method: "GetConfig",
        reqSchema: GetConfigRequestSchema,
        req,
        resSchema: GetConfigResponseSchema,
      },
      ctx,
      "read the cluster config",
      async (deadline) => {
        const stored = await this.#store.clusterSettings({ deadline });
        return create(GetConfigResponseSchema, {
          settings: names.map((n) => clusterSettingOf(n, stored)),
        });
      },
    );
  }

  /** Validates one setting and writes it (or, with dry_run, says what would change). */
  async setConfig(req: SetConfigRequest, ctx: CallContext): Promise<SetConfigResponse> {
    const name = settingName(req.name);
    if (req.value === "") {
      throw new RangeDbError(
        ErrorCode.INVALID_ARGUMENT,
        `Cannot set cluster setting ${name} as the value is empty`,
      );
    }
    // The value alone, before any round trip.
    const next = formatClusterSetting(name, parseClusterSetting(name, req.value));
    return await this.#locator.onRange1(
      {
        method: "SetConfig",
        reqSchema: SetConfigRequestSchema,
        req,
        resSchema: SetConfigResponseSchema,
      },
      ctx,
      "set the cluster setting",
      async (deadline) => {
        const before = await this.#store.clusterSettings({ deadline });
        await this.#store.setClusterSetting(name, req.value, { deadline, dryRun: req.dryRun });
        return create(SetConfigResponseSchema, {
          previous: clusterSettingOf(name, before),
          current: clusterSettingOf(name, new Map(before).set(name, next)),
          dryRun: req.dryRun,
        });
      },
    );
  }
}
