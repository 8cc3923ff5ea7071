/**
 * The `--seed` and `--seeds` flags of the simulation runners (`deno task sim`, `--stores`).
 *
 * @module
 */

/**
 * The seeds to run: `--seeds` of them from `--seed` (a random first seed when unset).
 *
 * @param usage reports a bad flag and exits
 * @returns the first seed and how many
 */
export function seedsOf(
  values: { seed?: string; seeds?: string },
  usage: (msg: string) => never,
): { first: number; seeds: number } {
  const seeds = values.seeds === undefined ? 1 : Number(values.seeds);
  if (!(Number.isInteger(seeds) && seeds > 0)) {
    usage(`Cannot run as --seeds is invalid: ${values.seeds}`);
  }
  const first = values.seed !== undefined
    ? Number(values.seed)
    : crypto.getRandomValues(new Uint32Array(1))[0];
  if (!Number.isSafeInteger(first)) usage(`Cannot run as --seed is invalid: ${values.seed}`);
  return { first, seeds };
}
