// `cairn fabric`: the day-0 cluster network from one topology file. Subcommands are entries of
// the dispatch table below, keyed by their words ("validate", "lab up", ...); each lists the
// options it reads, and the union is what the command line accepts.
import type { Command } from '../main.js';
import { CliError } from '../errors.js';
import { loadTopology, TopologyLoadError, type Topology } from '../../fabric/topology.js';
import { fabricSchema } from '../../fabric/schema.js';
import { validateTopology } from '../../fabric/validate.js';
import { renderAll } from '../../fabric/render.js';
import { labSubcommands } from './fabric-lab.js';

type Values = Parameters<Command['run']>[0];

export interface Subcommand {
  /** "FILE --out DIR": the arguments after the subcommand's words, for the usage text. */
  args: string;
  summary: string;
  options: Command['options'];
  run(values: Values, args: string[]): Promise<number | void>;
}

/** Loads a topology, turning load problems into CLI errors (one line each, no stack trace). */
async function load(file: string | undefined, usage: string): Promise<Topology> {
  if (!file) throw new CliError(`missing topology FILE; usage: cairn fabric ${usage}`, 2);
  try {
    return await loadTopology(file);
  } catch (e) {
    if (!(e instanceof TopologyLoadError)) throw e;
    throw new CliError(e.issues.map((i) => `${e.source}: ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\nerror: '));
  }
}

/** Loads and validates; the design problems, if any, become the error (every one, a line each). */
async function loadValid(file: string | undefined, usage: string): Promise<Topology> {
  const t = await load(file, usage);
  const problems = validateTopology(t);
  if (problems.length) throw new CliError(problems.map((p) => `${file}: ${p.path}: ${p.message}`).join('\nerror: '));
  return t;
}

const subcommands: Record<string, Subcommand> = {
  schema: {
    args: '',
    summary: 'print the JSON Schema of topology files',
    options: {},
    async run() {
      console.log(JSON.stringify(fabricSchema, null, 2));
    },
  },
  validate: {
    args: 'FILE [-o json]',
    summary: 'report every problem in a topology, with the path of the field',
    options: { output: { type: 'string', short: 'o' } },
    async run(values, [file]) {
      const t = await load(file, 'validate FILE');
      const problems = validateTopology(t);
      if (values.output === 'json') console.log(JSON.stringify(problems, null, 2));
      else if (!problems.length) console.log(`${file}: valid (${t.nodes.length} nodes, ${t.links.length} links, ${t.evpn.vnis.length} VNIs, ${t.bgp.scheme})`);
      else for (const p of problems) console.log(`${file}: ${p.path}: ${p.message}`);
      return problems.length ? 1 : 0;
    },
  },
  render: {
    args: 'FILE --out DIR',
    summary: "write each node's interfaces, frr.conf, corosync.conf and ceph.conf into DIR/<node>/",
    options: { out: { type: 'string' } },
    async run(values, [file]) {
      const t = await loadValid(file, 'render FILE --out DIR');
      if (typeof values.out !== 'string' || !values.out) throw new CliError('render needs --out DIR', 2);
      const written = await renderAll(t, values.out);
      console.log(`rendered ${written.length} files for ${t.nodes.length} nodes into ${values.out}`);
    },
  },
  ...labSubcommands(loadValid),
};

/** The table entry named by the first one or two positionals, and the arguments after it. */
function dispatch(positionals: string[]): [Subcommand, string[]] | undefined {
  const two = positionals.slice(0, 2).join(' ');
  if (positionals.length >= 2 && subcommands[two]) return [subcommands[two], positionals.slice(2)];
  const one = positionals[0];
  return one && Object.hasOwn(subcommands, one) ? [subcommands[one], positionals.slice(1)] : undefined;
}

function usage(): string {
  const lines = ['usage: cairn fabric <subcommand> ...', '', 'subcommands:'];
  for (const [name, s] of Object.entries(subcommands)) lines.push(`  ${`${name} ${s.args}`.padEnd(34)} ${s.summary}`);
  return lines.join('\n');
}

export const fabricCommand: Command = {
  name: 'fabric',
  summary: 'switchless cluster networking: validate and render a topology (ifupdown2, FRR EVPN, corosync, Ceph)',
  get usage() {
    return usage();
  },
  options: Object.assign({}, ...Object.values(subcommands).map((s) => s.options)),
  async run(values, positionals) {
    const found = dispatch(positionals);
    if (!found) throw new CliError(`${positionals[0] ? `unknown subcommand "${positionals.join(' ')}"` : 'missing subcommand'}; run 'cairn fabric --help'`, 2);
    const [sub, args] = found;
    return sub.run(values, args);
  },
};
