/**
 * The public surface of `src/base`: errors, key encoding and limits, logging, time, ids and
 * configuration.
 *
 * @module
 */

export * from "./errors.ts";
export * from "./key_encoding.ts";
export * from "./key_limits.ts";
export * from "./logger.ts";
export * from "./clock.ts";
export * from "./ids.ts";
export * from "./config.ts";
export * from "./config_units.ts";
export * from "./config_flags.ts";
export * from "./config_cluster.ts";
