#!/usr/bin/env node
// Show what zombienet does to a chain's genesis, without starting nodes: runs zombienet's own
// customizePlainRelayChain (the code `zombienet spawn/test` uses) on the plain spec of a preset
// (or a plain spec file) and prints the edited session / aura / grandpa / balances sections.
//
//   node zombienet/inspect-genesis.js PRESET|PLAIN_SPEC.json [--no-stash] [NODE...]
//
// NODE: validator names (default alice bob charlie dave). --no-stash: as the network option
// `use_stash_for_validators = false` (session accounts //Name instead of //Name//stash).
// Env: MBDS_NODE (node binary, for `build-spec`; default the release build).
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");
const orch = path.join(__dirname, "node_modules/@zombienet/orchestrator/dist");
const cs = require(path.join(orch, "chainSpec.js"));
const { generateKeyForNode } = require(path.join(orch, "keys.js"));

(async () => {
  const args = process.argv.slice(2);
  const noStash = args.includes("--no-stash");
  const [chain, ...names] = args.filter((a) => a !== "--no-stash");
  if (!chain) {
    console.error("usage: inspect-genesis.js PRESET|PLAIN_SPEC.json [--no-stash] [NODE...]");
    process.exit(2);
  }
  const node =
    process.env.MBDS_NODE ||
    path.join(process.env.CARGO_TARGET_DIR || path.join(os.homedir(), ".cache/mbds-target"), "release/mbds-node");
  const spec = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mbds-genesis-")), "plain.json");
  if (fs.existsSync(chain)) fs.copyFileSync(chain, spec);
  else fs.writeFileSync(spec, execFileSync(node, ["build-spec", "--chain", chain, "--disable-default-bootnode"], { stdio: ["ignore", "pipe", "ignore"] }));

  const nodes = [];
  for (const name of names.length ? names : ["alice", "bob", "charlie", "dave"])
    nodes.push({ name, validator: true, balance: 2000000000000, accounts: await generateKeyForNode(name) });
  const log = console.log;
  console.log = () => {}; // zombienet's progress tables
  await cs.customizePlainRelayChain(spec, { relaychain: { chain, nodes, useStashForValidators: !noStash } });
  console.log = log;
  const rc = cs.getRuntimeConfig(cs.readAndParseChainSpec(spec));
  const out = {};
  for (const k of ["session", "aura", "grandpa", "balances"]) if (rc[k] !== undefined) out[k] = rc[k];
  console.log(JSON.stringify(out, (_, v) => (typeof v === "bigint" ? v.toString() : v), 1));
  console.error(`(edited plain spec: ${spec})`);
})();
