import { describe, expect, it } from 'vitest';
import { decideGaleraStart, type GaleraNodeView } from '../../src/components/mariadb/bootstrap.js';
import { markBootstrap, parseGrastate, parseRecoveredPosition } from '../../src/components/mariadb/grastate.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const U = '7f0a4b6c-1111-11ee-8000-000000000001';
const node = (name: string, v: Partial<GaleraNodeView> = {}): GaleraNodeView => ({
  name,
  running: false,
  primary: false,
  hasData: true,
  uuid: U,
  seqno: 10,
  ...v,
});

describe('decideGaleraStart (shared by the local and Kubernetes targets)', () => {
  it('all running and Primary: healthy', () => {
    expect(decideGaleraStart([node('a', { running: true, primary: true }), node('b', { running: true, primary: true })])).toEqual({ kind: 'healthy' });
  });
  it('a Primary component exists: start the dead nodes to rejoin', () => {
    const d = decideGaleraStart([node('a', { running: true, primary: true }), node('b'), node('c', { hasData: false })]);
    expect(d).toMatchObject({ kind: 'join', start: ['b', 'c'] });
  });
  it('no node has data: form a new cluster from the first', () => {
    expect(decideGaleraStart([node('a', { hasData: false }), node('b', { hasData: false })])).toMatchObject({ kind: 'form', bootstrap: 'a', then: ['b'] });
  });
  it('all down: bootstrap the most advanced node only', () => {
    const d = decideGaleraStart([node('a', { seqno: 40 }), node('b', { seqno: 42 }), node('c', { seqno: 41 })]);
    expect(d).toMatchObject({ kind: 'recover', bootstrap: 'b', seqno: 42, then: ['a', 'c'] });
  });
  it('ties prefer safe_to_bootstrap', () => {
    const d = decideGaleraStart([node('a', { seqno: 42 }), node('b', { seqno: 42, safeToBootstrap: true })]);
    expect(d).toMatchObject({ kind: 'recover', bootstrap: 'b' });
  });
  it("refuses when a node's data is missing and says what it found and what to run", () => {
    const d = decideGaleraStart([node('a', { seqno: 40 }), node('b', { seqno: 42 }), node('c', { hasData: false, uuid: undefined, seqno: undefined })]);
    expect(d.kind).toBe('refuse');
    expect((d as { reason: string }).reason).toMatch(/c lost its data.*a: .*:40.*b: .*:42.*osb recover --force-bootstrap b/);
  });
  it('refuses when a position is unknown', () => {
    expect(decideGaleraStart([node('a', { seqno: -1 }), node('b')]).kind).toBe('refuse');
  });
  it('refuses different cluster histories', () => {
    expect(decideGaleraStart([node('a'), node('b', { uuid: '7f0a4b6c-2222-11ee-8000-000000000002' })]).kind).toBe('refuse');
  });
  it('refuses while non-Primary nodes still run', () => {
    expect(decideGaleraStart([node('a', { running: true }), node('b')]).kind).toBe('refuse');
  });
  it('force-bootstrap picks the operator’s node, but only when all are stopped and it has data', () => {
    expect(decideGaleraStart([node('a'), node('b', { hasData: false })], { forceBootstrap: 'a' })).toMatchObject({
      kind: 'recover',
      bootstrap: 'a',
      then: ['b'],
    });
    expect(decideGaleraStart([node('a'), node('b')], { forceBootstrap: 'z' }).kind).toBe('refuse');
    expect(decideGaleraStart([node('a', { running: true }), node('b')], { forceBootstrap: 'b' }).kind).toBe('refuse');
    expect(decideGaleraStart([node('a'), node('b', { hasData: false })], { forceBootstrap: 'b' }).kind).toBe('refuse');
  });
});

describe('grastate.dat and --wsrep-recover parsing', () => {
  const text = `# GALERA saved state\nversion: 2.1\nuuid:    ${U}\nseqno:   -1\nsafe_to_bootstrap: 0\n`;
  it('parses grastate.dat', () => {
    expect(parseGrastate(text)).toEqual({ uuid: U, seqno: -1, safeToBootstrap: false });
  });
  it('parses the recovered position from the error log', () => {
    expect(parseRecoveredPosition(`2026-11-27 [Note] WSREP: Recovered position: ${U}:1234\n`)).toEqual({ uuid: U, seqno: 1234 });
    expect(parseRecoveredPosition('nothing here')).toBeUndefined();
  });
  it('marks a node safe to bootstrap at its recovered seqno', () => {
    const f = join(mkdtempSync(join(tmpdir(), 'gra-')), 'grastate.dat');
    writeFileSync(f, text);
    markBootstrap(f, U, 77);
    expect(parseGrastate(readFileSync(f, 'utf8'))).toEqual({ uuid: U, seqno: 77, safeToBootstrap: true });
  });
});
