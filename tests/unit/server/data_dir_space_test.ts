import assert from "node:assert/strict";
import { isRangeDbError, RangeDbError } from "../../../src/base/errors.ts";
import {
  availableBytes,
  checkStartSpace,
  FULL_DISK_FREE_BYTES,
  MIN_START_FREE_BYTES,
  writeFailureError,
} from "../../../src/server/data_dir_space.ts";

const MiB = 1024 * 1024;
const fixed = (bytes: number) => () => bytes;
const broken = () => {
  throw new Error("statfs failed");
};

Deno.test("checkStartSpace() refuses a disk with less than MIN_START_FREE_BYTES available", () => {
  assert.throws(
    () => checkStartSpace("/data", fixed(MIN_START_FREE_BYTES - 1)),
    (err) =>
      isRangeDbError(err, "FAILED_PRECONDITION") &&
      err.message.startsWith(
        "Cannot start the node as the disk of its data directory is full: /data: " +
          `no space left on device (ENOSPC), ${MIN_START_FREE_BYTES - 1} bytes available`,
      ) && err.details.availableBytes === MIN_START_FREE_BYTES - 1,
  );
  checkStartSpace("/data", fixed(MIN_START_FREE_BYTES));
  // A disk that cannot be inspected is left to the engine's own checks.
  checkStartSpace("/data", broken);
});

Deno.test("checkStartSpace() inspects the nearest existing ancestor of a directory not created yet", () => {
  const probed: string[] = [];
  checkStartSpace("/tmp/rangedb-never-created/a/b", (path) => {
    probed.push(path);
    return MIN_START_FREE_BYTES;
  });
  assert.deepEqual(probed, ["/tmp"]);
  assert.ok(availableBytes("/tmp") >= 0);
});

const cases: {
  name: string;
  cause: unknown;
  available: number | "broken";
  diskFull: boolean;
  errno?: string;
}[] = [
  {
    name: "LMDB's EIO after a short write, on a full disk",
    cause: new RangeDbError("INTERNAL", "Cannot write batch as LMDB failed: Error: Input/output", {
      cause: Object.assign(new Error("Input/output error"), { code: 5 }),
    }),
    available: 0,
    diskFull: true,
    errno: "EIO",
  },
  {
    name: "ENOSPC with space left (freed since)",
    cause: Object.assign(new Error("No space left on device"), { code: "ENOSPC" }),
    available: 100 * MiB,
    diskFull: true,
    errno: "ENOSPC",
  },
  {
    name: "LMDB's numeric ENOSPC",
    cause: Object.assign(new Error("No space left on device"), { code: 28 }),
    available: "broken",
    diskFull: true,
    errno: "ENOSPC",
  },
  {
    name: "EIO with plenty of space: a failing disk",
    cause: Object.assign(new Error("Input/output error"), { code: 5 }),
    available: 100 * MiB,
    diskFull: false,
    errno: "EIO",
  },
  {
    name: "an error without errno, just under the full-disk mark",
    cause: new Error("Commit failed"),
    available: FULL_DISK_FREE_BYTES - 1,
    diskFull: true,
  },
  {
    name: "an error without errno on a disk that cannot be inspected",
    cause: new Error("Commit failed"),
    available: "broken",
    diskFull: false,
  },
];

for (const c of cases) {
  Deno.test(`writeFailureError() explains ${c.name}`, () => {
    const probe = c.available === "broken" ? broken : fixed(c.available);
    const err = writeFailureError("/d", c.cause, probe);
    assert.equal(err.code, "UNAVAILABLE");
    assert.equal(err.cause, c.cause);
    assert.equal(err.details.ambiguous, true, "a failed write's outcome is unknown");
    assert.equal(err.details.diskFull, c.diskFull);
    assert.equal(err.details.errno, c.errno);
    if (c.diskFull) {
      const bytes = c.available === "broken" ? "unknown" : c.available;
      assert.equal(
        err.message,
        "Cannot write to the data directory as its disk is full: /d: " +
          `no space left on device (ENOSPC), ${bytes} bytes available`,
      );
    } else {
      assert.match(
        err.message,
        /^Cannot write to the data directory as the storage engine failed: \/d: /,
      );
    }
  });
}
