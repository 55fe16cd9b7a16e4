#!/usr/bin/env node
// Compiles Solidity sources with the pinned solcjs (node_modules/solc) through its standard-JSON
// API and writes one OUT/NAME.json per deployable contract defined in the given sources:
//   { "contractName", "sourceName", "compiler", "abi", "bytecode": "0x..", "deployedBytecode": "0x.." }
//
//   node scripts/evm/compile.mjs --out build/contracts SOURCE...
//
// A SOURCE is a path in this repository (bridges/evm/contracts/CollateralVault.sol) or a path
// inside an npm package (@chainlink/contracts/src/v0.8/tests/MockV3Aggregator.sol). Imports
// resolve against node_modules first, then the repository root. Any error fails the build; so
// does a warning in this repository's own sources (the C side builds with -Werror too).
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const solc = require(join(root, 'node_modules', 'solc'));

// Settings every artifact is built with; the EVM version is one every chain we target runs.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

function usage() {
  console.error('usage: compile.mjs --out DIR SOURCE...');
  process.exit(2);
}

function locate(unit) {
  for (const base of [join(root, 'node_modules'), root]) {
    const p = join(base, unit);
    if (!p.startsWith(base + '/')) continue; // no escaping the tree with ../
    if (existsSync(p)) return p;
  }
  return null;
}

function findImports(unit) {
  const p = locate(unit);
  return p ? { contents: readFileSync(p, 'utf8') } : { error: `not found in node_modules or the repository: ${unit}` };
}

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
if (outAt < 0 || outAt + 1 >= args.length) usage();
const outDir = args[outAt + 1];
const units = args.filter((_, i) => i !== outAt && i !== outAt + 1);
if (units.length === 0) usage();

const sources = {};
for (const unit of units) {
  const p = locate(unit);
  if (!p) {
    console.error(`compile: ${unit}: no such source`);
    process.exit(1);
  }
  sources[unit] = { content: readFileSync(p, 'utf8') };
}

const input = { language: 'Solidity', sources, settings: SETTINGS };
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

let failed = false;
for (const e of output.errors ?? []) {
  const file = e.sourceLocation?.file ?? '';
  const ours = file !== '' && !file.startsWith('@') && existsSync(join(root, file));
  if (e.severity === 'error' || (e.severity === 'warning' && ours)) failed = true;
  if (e.severity !== 'info') console.error(e.formattedMessage.trimEnd());
}
if (failed) process.exit(1);

const compiler = `solc ${solc.version()}`;
mkdirSync(outDir, { recursive: true });
let written = 0;
for (const unit of units) {
  for (const [name, c] of Object.entries(output.contracts?.[unit] ?? {})) {
    const bytecode = c.evm.bytecode.object;
    if (!bytecode) continue; // interfaces and abstract contracts
    const artifact = {
      contractName: name,
      sourceName: unit,
      compiler,
      abi: c.abi,
      bytecode: '0x' + bytecode,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    };
    const path = join(outDir, `${name}.json`);
    writeFileSync(path + '.tmp', JSON.stringify(artifact, null, 2) + '\n');
    renameSync(path + '.tmp', path);
    written++;
  }
}
console.error(`compile: ${written} contracts -> ${outDir} (${compiler})`);
