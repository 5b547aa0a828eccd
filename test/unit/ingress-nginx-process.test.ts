// Recognising a node's nginx master from /proc/PID/cmdline (how an agent adopts it and how
// `cairn down` finds it): before and after nginx rewrites its title, never another config's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isNginxMaster } from '../../src/ingress/nginx.js';

const conf = '/var/lib/cairn/nodes/1/ingress/nginx.conf';

test('the master is recognised by its title, for its own configuration file only', () => {
  assert.equal(isNginxMaster([`nginx: master process /usr/sbin/nginx -p /var/lib/cairn/nodes/1/ingress/ -c ${conf}`], conf), true);
  assert.equal(isNginxMaster([`nginx: master process /usr/sbin/nginx -p /x/ -c ${conf}.old`], conf), false);
  assert.equal(isNginxMaster(['nginx: master process /usr/sbin/nginx -c /var/lib/cairn/nodes/2/ingress/nginx.conf'], conf), false);
  assert.equal(isNginxMaster(['nginx: worker process'], conf), false);
});

test('a master that has not rewritten its title yet is recognised by its arguments; nginx -t is not', () => {
  assert.equal(isNginxMaster(['/usr/sbin/nginx', '-p', '/var/lib/cairn/nodes/1/ingress/', '-c', conf], conf), true);
  assert.equal(isNginxMaster(['/usr/sbin/nginx', '-t', '-q', '-p', '/x/', '-c', conf], conf), false);
  assert.equal(isNginxMaster(['/usr/bin/other', '-c', conf], conf), false);
});
