// `cairn fabric lab up|verify|fail|down`: the live lab (src/fabric/lab), as entries of the
// `cairn fabric` dispatch table. Lab problems reach the user as one line (LabError messages are
// written for that), never a stack trace.
import { CliError } from '../errors.js';
import type { Subcommand } from './fabric.js';
import type { Topology } from '../../fabric/topology.js';
import { LabError } from '../../fabric/lab/errors.js';
import { DEFAULT_LAB_ID } from '../../fabric/lab/names.js';
import { labUp } from '../../fabric/lab/up.js';
import { labVerify, type RecoveryReport } from '../../fabric/lab/verify.js';
import { labFail } from '../../fabric/lab/fail.js';
import { labDown } from '../../fabric/lab/down.js';
import { readState } from '../../fabric/lab/state.js';

type Values = Parameters<Subcommand['run']>[0];

/** FRR's BFD defaults: 300 ms transmit/receive interval, detect multiplier 3. */
const BFD_DETECT_MS = 300 * 3;

const idOf = (v: Values): string => (typeof v.id === 'string' ? v.id : DEFAULT_LAB_ID);

async function asCli<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof LabError) throw new CliError(e.message);
    throw e;
  }
}

function describeRecovery(r: RecoveryReport, t: Topology): string {
  const how = r.silent ? 'silent cut, carrier kept' : 'cable cut, carrier lost';
  const hold = t.bgp.timers.hold;
  const bfd = `BGP hold time ${hold} s; BFD at FRR's defaults (300 ms x 3) would detect a failure in ${(BFD_DETECT_MS / 1000).toFixed(1)} s`;
  const rec = r.recovered;
  if (!rec) return `NOT recovered: some guest pairs still unreachable after the cut of ${r.link} (${how}; ${bfd})`;
  // Recovered before the first probe: the figure is the delay until probing began, an upper bound.
  const after = `${rec.firstRound ? 'at most ' : ''}${(rec.ms / 1000).toFixed(1)} s`;
  return `recovered: every guest pair answered again ${after} after the cut of ${r.link} (${how}; ${bfd})`;
}

/** `load` turns a file into a valid topology, with fabric.ts's one-line errors. */
export function labSubcommands(load: (file: string | undefined, usage: string) => Promise<Topology>): Record<string, Subcommand> {
  return {
    'lab up': {
      args: 'FILE [--id ID] [--no-corosync]',
      summary: 'build the topology here: namespaces, links, interfaces, guests, FRR and corosync',
      options: { id: { type: 'string' }, 'no-corosync': { type: 'boolean' } },
      async run(values, [file]) {
        const t = await load(file, 'lab up FILE [--id ID]');
        const id = idOf(values);
        const state = await asCli(() => labUp({ id, topology: t, source: file!, corosync: values['no-corosync'] !== true, progress: (l) => console.log(l) }));
        console.log(`lab ${id} is up: ${t.nodes.length} nodes, ${t.links.length} links, ${state.guests.length} guests${state.corosync ? ', corosync' : ''}; check it with 'cairn fabric lab verify --id ${id}'`);
      },
    },
    'lab verify': {
      args: '[--id ID] [--wait SECONDS] [-o json]',
      summary: 'check BGP, EVPN routes, VXLAN FDB, guest reachability, ifquery, corosync; measure recovery after a cut',
      options: { id: { type: 'string' }, wait: { type: 'string' }, output: { type: 'string', short: 'o' } },
      async run(values) {
        const id = idOf(values);
        const wait = values.wait === undefined ? 60 : Number(values.wait);
        if (!Number.isFinite(wait) || wait < 0) throw new CliError(`--wait takes seconds, not "${String(values.wait)}"`, 2);
        const json = values.output === 'json';
        const report = await asCli(() => labVerify(id, { waitMs: wait * 1000, progress: json ? undefined : (l) => console.log(l) }));
        if (json) console.log(JSON.stringify(report, null, 2));
        else {
          const t = (await asCli(() => readState(id))).topology;
          for (const r of report.recoveries) console.log(describeRecovery(r, t));
          for (const c of report.checks) {
            if (c.ok) console.log(`ok    ${c.name}: ${c.summary}`);
            else for (const p of c.problems) console.log(`FAIL  ${c.name}: ${p}`);
          }
          console.log(report.ok ? `lab ${id}: all checks passed` : `lab ${id}: some checks failed`);
        }
        return report.ok ? 0 : 1;
      },
    },
    'lab fail': {
      args: 'LINK [--id ID] [--silent]',
      summary: 'cut a link (both NICs lose carrier; --silent: carrier stays, frames are lost)',
      options: { id: { type: 'string' }, silent: { type: 'boolean' } },
      async run(values, [link]) {
        if (!link) throw new CliError('missing LINK; usage: cairn fabric lab fail LINK [--id ID]', 2);
        const id = idOf(values);
        const cut = await asCli(() => labFail(id, link, values.silent === true));
        console.log(`cut link ${link} of lab ${id} at ${new Date(cut.at).toISOString()}${cut.silent ? ' (silently)' : ''}; 'cairn fabric lab verify --id ${id}' measures the recovery`);
      },
    },
    'lab down': {
      args: '[--id ID]',
      summary: 'remove the lab: daemons, namespaces, links, files',
      options: { id: { type: 'string' } },
      async run(values) {
        const id = idOf(values);
        const r = await asCli(() => labDown(id));
        if (!r.namespaces.length && !r.removedDir) console.log(`no lab ${id} on this host; nothing to remove`);
        else console.log(`lab ${id} removed: ${r.processes} processes stopped, ${r.namespaces.length} namespaces deleted`);
      },
    },
  };
}
