import type { Command } from '../main.js';
import { versionInfo } from '../../api/version.js';

export const versionCommand: Command = {
  name: 'version',
  summary: "print Cairn's version and the Kubernetes API version it serves",
  usage: 'usage: cairn version [--output json]',
  options: { output: { type: 'string', short: 'o' } },
  async run(values) {
    const v = versionInfo();
    if (values.output === 'json') console.log(JSON.stringify(v, null, 2));
    else console.log(`cairn ${v.cairnVersion} (Kubernetes API ${v.gitVersion})`);
  },
};
