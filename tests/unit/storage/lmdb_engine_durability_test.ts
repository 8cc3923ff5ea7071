import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { openLmdbEngine } from "../../../src/storage/lmdb_engine.ts";

const CHILD = fileURLToPath(new URL("./_lmdb_writer_child.ts", import.meta.url));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Runs the writer child until it has acknowledged `acks` writes, then SIGKILLs it. */
async function writeThenKill(dir: string, mode: "sync" | "nosync", acks: number): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, dir, mode, "1000000"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let last = -1;
  let text = "";
  const reader = child.stdout.getReader();
  try {
    while (last < acks) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`writer exited after ${last + 1} acks`);
      text += decoder.decode(value, { stream: true });
      const lines = text.split("\n");
      text = lines.pop()!;
      for (const line of lines) last = Number(line.split(" ")[1]);
    }
    child.kill("SIGKILL");
  } finally {
    reader.releaseLock();
    await child.stdout.cancel();
  }
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL");
  return last;
}

async function assertAckedPresent(dir: string, last: number): Promise<void> {
  const engine = await openLmdbEngine(dir);
  try {
    for (let i = 0; i <= last; i++) {
      const value = engine.get("data", encoder.encode(`key-${i}`));
      assert.equal(value && decoder.decode(value), `value-${i}`, `acked key-${i} is lost`);
    }
  } finally {
    await engine.close();
  }
}

for (const mode of ["sync", "nosync"] as const) {
  Deno.test(`LmdbEngine.write() keeps every ${mode} write acknowledged before a SIGKILL`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "rangedb-kill-" });
    try {
      const last = await writeThenKill(dir, mode, 40);
      await assertAckedPresent(dir, last);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

function hasStrace(): boolean {
  try {
    return new Deno.Command("strace", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "LmdbEngine.write() with sync resolves only after an fdatasync completed",
  ignore: !hasStrace(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rangedb-strace-" });
    const trace = `${dir}.strace`;
    try {
      const result = await new Deno.Command("strace", {
        args: ["-f", "-e", "trace=fdatasync,fsync,write", "-o", trace, Deno.execPath()]
          .concat(["run", "-A", CHILD, dir, "sync", "25"]),
        stdout: "null",
        stderr: "inherit",
      }).output();
      assert.ok(result.success);
      // Events in the order strace saw them: a completed flush, or an acknowledgement on stdout.
      let flushedSinceAck = false;
      let acks = 0;
      for (const line of (await Deno.readTextFile(trace)).split("\n")) {
        if (/(fdatasync|fsync)\(\d+\)\s+=\s+0$|<\.\.\. f(data)?sync resumed>.*=\s+0$/.test(line)) {
          flushedSinceAck = true;
        }
        const ack = /write\(1, "acked (\d+)\\n"/.exec(line);
        if (ack) {
          assert.ok(flushedSinceAck, `write ${ack[1]} was acknowledged before any flush`);
          flushedSinceAck = false;
          acks++;
        }
      }
      assert.equal(acks, 25);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(trace).catch(() => {});
    }
  },
});
