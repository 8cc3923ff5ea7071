/**
 * Node-local flags, derived from the `flag` settings of {@linkcode SETTINGS}: the option spec for
 * `node:util` `parseArgs` and the conversion of parsed values into a typed {@linkcode NodeFlags}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type CamelCase,
  camelCase,
  type FlagName,
  parseSettingValue,
  type Setting,
  SETTINGS,
  type Settings,
  type SettingValue,
} from "./config.ts";
import { ErrorCode, RangeDbError } from "./errors.ts";

/** The typed flags of a node, camelCase (`--peer-address` → `peerAddress`). */
export type NodeFlags = { -readonly [K in FlagName as CamelCase<K>]: SettingValue<Settings[K]> };

/** One option of a `parseArgs` spec. */
export interface FlagOption {
  type: "string" | "boolean";
  multiple?: boolean;
}

/** The names of all flags, in definition order. */
export const FLAG_NAMES: readonly FlagName[] = (Object.keys(SETTINGS) as (keyof Settings)[])
  .filter((name): name is FlagName => SETTINGS[name].scope === "flag");

/**
 * The option spec of the node flags for `parseArgs` of `node:util`. It sets no defaults, so that
 * the parsed values show what was given; {@linkcode nodeFlagsFrom} applies the defaults.
 *
 * @example
 * ```ts
 * import { parseArgs } from "node:util";
 * import { flagOptions, nodeFlagsFrom } from "./config_flags.ts";
 * const { values } = parseArgs({ args: ["--data-dir=/tmp/n1"], options: flagOptions() });
 * nodeFlagsFrom(values).dataDir; // "/tmp/n1"
 * ```
 *
 * @returns options keyed by flag name; address lists may be repeated
 */
export function flagOptions(): Record<FlagName, FlagOption> {
  const out = {} as Record<FlagName, FlagOption>;
  for (const name of FLAG_NAMES) {
    const setting: Setting = SETTINGS[name];
    if (setting.type === "boolean") out[name] = { type: "boolean" };
    else if (setting.type === "addresses") out[name] = { type: "string", multiple: true };
    else out[name] = { type: "string" };
  }
  return out;
}

/** Values as `parseArgs` returns them. */
export type ParsedFlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * Converts parsed flag values into typed flags: defaults for absent flags, each value parsed and
 * validated, then the combinations checked. Keys that are not node flags are ignored, so the CLI
 * may parse its own options alongside.
 *
 * @param values what `parseArgs` returned for an options spec that includes {@linkcode flagOptions}
 * @returns the typed flags
 * @throws {RangeDbError} INVALID_ARGUMENT naming the flag and the value when one is invalid,
 * when `--cluster-init` is combined with `--join`, or when two listeners share an address
 */
export function nodeFlagsFrom(values: ParsedFlagValues): NodeFlags {
  const out: Record<string, unknown> = {};
  for (const name of FLAG_NAMES) {
    const setting: Setting = SETTINGS[name];
    const given = values[name];
    let value: unknown;
    if (given === undefined) {
      value = setting.type === "addresses" ? [...setting.default] : setting.default;
    } else if (typeof given === "boolean") {
      if (setting.type !== "boolean") {
        throw new RangeDbError(
          ErrorCode.INVALID_ARGUMENT,
          `Cannot parse flag --${name} as it needs a value: got a bare --${name}`,
          { details: { flag: name } },
        );
      }
      value = given;
    } else {
      // Strings are parsed for every type, switches included: a caller's own parseArgs spec may
      // declare a switch as a string option.
      const raw = Array.isArray(given) ? given.join(",") : given;
      const parsed = parseSettingValue(setting, raw);
      if (!parsed.ok) {
        throw new RangeDbError(
          ErrorCode.INVALID_ARGUMENT,
          `Cannot parse flag --${name} as ${parsed.problem}: got '${raw}'`,
          { details: { flag: name, value: raw } },
        );
      }
      value = parsed.value;
    }
    out[camelCase(name)] = value;
  }
  const flags = out as NodeFlags;
  checkCombinations(flags);
  return flags;
}

/**
 * Parses node flags from command-line arguments (strict: unknown flags and positional arguments
 * are refused).
 *
 * @param args the arguments, without the program and subcommand
 * @returns the typed flags
 * @throws {RangeDbError} INVALID_ARGUMENT when an argument is unknown, malformed or invalid
 */
export function parseNodeFlags(args: string[]): NodeFlags {
  let values: ParsedFlagValues;
  try {
    values = parseArgs({ args, options: flagOptions(), strict: true }).values;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      `Cannot parse flags as the arguments are not valid: ${reason}`,
      { cause: err },
    );
  }
  return nodeFlagsFrom(values);
}

function checkCombinations(flags: NodeFlags): void {
  if (flags.clusterInit && flags.join.length > 0) {
    throw new RangeDbError(
      ErrorCode.INVALID_ARGUMENT,
      "Cannot parse flags as --cluster-init and --join exclude each other: " +
        `got --join ${flags.join.join(",")}`,
    );
  }
  const listeners = [
    ["peer-address", flags.peerAddress],
    ["client-address", flags.clientAddress],
    ["admin-address", flags.adminAddress],
  ] as const;
  for (let i = 0; i < listeners.length; i++) {
    for (let j = i + 1; j < listeners.length; j++) {
      const [a, addrA] = listeners[i];
      const [b, addrB] = listeners[j];
      // Port 0 means "any free port", so equal addresses with port 0 do not collide.
      if (addrA === addrB && !addrA.endsWith(":0")) {
        throw new RangeDbError(
          ErrorCode.INVALID_ARGUMENT,
          `Cannot parse flags as two listeners share an address: --${a} and --${b} are both ${addrA}`,
        );
      }
    }
  }
}
