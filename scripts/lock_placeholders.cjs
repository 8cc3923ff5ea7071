// Run with node after `npm install` changes package-lock.json: `node scripts/lock_placeholders.cjs`.
//
// The registry reachable here does not serve some other platforms' optional packages at our
// pinned versions (for example @deno/darwin-arm64@2.9.6). npm then resolves each one to a
// versionless placeholder nested under its parent, writes no lock entry for it, and `npm ci`
// refuses the lock it just wrote ("Missing: @deno/darwin-arm64@ from lock file", npm/cli#9846).
// This adds those placeholder entries, so `npm ci` accepts the lock; the packages stay
// uninstalled, as they are optional and for other platforms.
const fs = require("node:fs");
const path = require("node:path");
const { execSync } = require("node:child_process");

const npmRoot = execSync("npm root -g", { encoding: "utf8" }).trim();
const Arborist = require(path.join(npmRoot, "npm", "node_modules", "@npmcli", "arborist"));

(async () => {
  const arb = new Arborist({ path: process.cwd() });
  await arb.buildIdealTree();
  const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
  let added = 0;
  for (const [location, node] of arb.idealTree.inventory.entries()) {
    if (node.version === "" && !(location in lock.packages)) {
      lock.packages[location] = { version: "", dev: node.dev, optional: true };
      added++;
    }
  }
  fs.writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n");
  console.log(`lock_placeholders: added ${added} placeholder entries`);
})();
