import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { checkCertificate, hexBytes, leafHash, leafLine, verifyInclusion } from '../static/js/certificate.js';

// The golden file is what the Go side (package certify) makes of fixed
// logs; go test ./certify checks it is current. The browser's checks
// must agree with it leaf for leaf and proof for proof.
const golden = JSON.parse(readFileSync(new URL('./testdata/certificate-golden.json', import.meta.url)));

test('every receipt of every golden tree verifies, and a changed one does not', async () => {
  let checked = 0;
  for (const tree of golden.trees) {
    const root = hexBytes(tree.root);
    for (const r of tree.receipts) {
      const proof = r.proof.map(hexBytes);
      const leaf = await leafHash(leafLine(r.entry));
      assert.ok(await verifyInclusion(r.index, r.size, leaf, proof, root), `size ${r.size}, leaf ${r.index}`);
      const changed = { ...r.entry, seq: r.entry.seq + 1 };
      assert.ok(!(await verifyInclusion(r.index, r.size, await leafHash(leafLine(changed)), proof, root)), `size ${r.size}, leaf ${r.index}: a changed entry`);
      if (r.size > 1) {
        assert.ok(!(await verifyInclusion((r.index + 1) % r.size, r.size, leaf, proof, root)), `size ${r.size}, leaf ${r.index}: another index`);
      }
      checked++;
    }
  }
  assert.equal(checked, 78); // 1 + 2 + ... + 12
});

test('the golden certificate verifies; a changed payload does not', async () => {
  const key = JSON.parse(golden.certificate.payload).public_key;
  const good = await checkCertificate(golden.certificate, key);
  assert.deepEqual(good.checks.map((c) => [c.id, c.ok]), [['signature', true], ['key', true]]);
  const changed = { ...golden.certificate, payload: golden.certificate.payload.replace('"totals":[4,3,3]', '"totals":[4,3,4]') };
  assert.notEqual(changed.payload, golden.certificate.payload);
  const bad = await checkCertificate(changed, key);
  assert.equal(bad.checks[0].ok, false);
});
