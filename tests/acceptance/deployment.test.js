'use strict';
// Issue 9 item 5: one deployment source. The manifest file has one reader in outpostd, which
// validates each change once and hands `$edgeAgent` to the agent and `$edgeHub` to the hub;
// both follow a change (and reject a bad document) from that one read.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { withOutpost, waitFor, manifest } = require('./lib/outpost');

function writeRaw(op, text) {
  const tmp = `${op.manifestPath}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, op.manifestPath);
}

/// A manifest whose two desired sections both carry `$version`.
function versioned(routes, version) {
  const doc = manifest(routes);
  doc.modulesContent.$edgeAgent['properties.desired'].$version = version;
  doc.modulesContent.$edgeHub['properties.desired'].$version = version;
  return JSON.stringify(doc, null, 2) + '\n';
}

/// The `[deployment] read N of ...` lines of outpostd's log.
function reads(op) {
  return op.stderrText().split('\n').filter((l) => /\[deployment\] read \d+ of /.test(l));
}

test('one read of a changed manifest reaches both the agent and the hub; a bad one is rejected by both',
  { timeout: 60000 }, async () => {
    const v1 = { toA: 'FROM /messages/* INTO BrokeredEndpoint("/modules/sink/inputs/a")' };
    const v2 = { ...v1, toB: 'FROM /messages/* INTO BrokeredEndpoint("/modules/sink/inputs/b")' };
    await withOutpost({ name: 'deployment' }, async (op) => {
      writeRaw(op, versioned(v1, 3));
      const both = async (pred) => pred((await op.admin('GET', '/status/edgeagent')).body,
        (await op.admin('GET', '/status/edgehub')).body);
      await waitFor(() => both((a, h) => a.lastDesiredVersion === 3 && h.lastDesiredVersion === 3
        && h.routes === 1 && a.lastDesiredStatus.code === 200 && h.lastDesiredStatus.code === 200),
      { timeoutMs: 10000, message: 'agent and hub at version 3' });
      const before = reads(op).length;
      assert.ok(before >= 2, `the start-up read and the change: ${reads(op).join('\n')}`);

      writeRaw(op, versioned(v2, 7));
      await waitFor(() => both((a, h) => a.lastDesiredVersion === 7 && h.lastDesiredVersion === 7
        && h.routes === 2),
      { timeoutMs: 10000, message: 'agent and hub at version 7 with two routes' });
      let lines = reads(op);
      assert.equal(lines.length, before + 1, `one read for the change:\n${lines.join('\n')}`);
      assert.match(lines.at(-1), /\$edgeAgent to the agent, \$edgeHub to the hub/);

      // A document that is not JSON: one read, both reject it with 400, the routes stay.
      writeRaw(op, '{"modulesContent": ');
      await waitFor(() => both((a, h) => a.lastDesiredStatus.code === 400
        && h.lastDesiredStatus.code === 400),
      { timeoutMs: 10000, message: 'agent and hub reject the bad manifest with 400' });
      lines = reads(op);
      assert.equal(lines.length, before + 2, `one read for the bad manifest:\n${lines.join('\n')}`);
      const hub = (await op.admin('GET', '/status/edgehub')).body;
      assert.equal(hub.routes, 2, 'the previous routes stay in force');

      // Unchanged text is not handed on again.
      writeRaw(op, '{"modulesContent": ');
      await new Promise((r) => setTimeout(r, 2500)); // two looks of the source
      assert.equal(reads(op).length, before + 2, 'an unchanged file is not read as a change');
    });
  });
