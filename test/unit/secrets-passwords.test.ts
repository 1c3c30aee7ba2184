import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SAFE_PASSWORD } from '../../src/config/schema.js';
import { ensureSecrets, generatePassword, readSecrets, secretsPath, writeSecrets } from '../../src/config/secrets.js';
import { OsbError } from '../../src/util/errors.js';

const root = mkdtempSync(join(tmpdir(), 'osb-unit-secrets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const d = join(root, `s${n++}`);
  mkdirSync(d);
  return d;
};

describe('generated passwords', () => {
  it('are 40 letters and digits by default', () => {
    for (let i = 0; i < 200; i++) {
      const p = generatePassword();
      expect(p).toHaveLength(40);
      expect(p).toMatch(/^[A-Za-z0-9]{40}$/);
      expect(SAFE_PASSWORD.test(p)).toBe(true);
    }
  });

  it('honour a requested length', () => {
    expect(generatePassword(16)).toHaveLength(16);
    expect(generatePassword(64)).toMatch(/^[A-Za-z0-9]{64}$/);
  });

  it('use the whole alphabet and never repeat', () => {
    const many = Array.from({ length: 500 }, () => generatePassword());
    expect(new Set(many).size).toBe(many.length);
    const chars = new Set(many.join(''));
    // 20,000 draws from 62 symbols: every symbol appears.
    expect(chars.size).toBe(62);
  });
});

describe('secrets.json', () => {
  it('first use creates it with mode 0600 and all fields', () => {
    const d = freshDir();
    const s = ensureSecrets(d);
    expect(statSync(secretsPath(d)).mode & 0o777).toBe(0o600);
    expect(s.mariadbAdminPassword).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(s.rabbitmqAdminPassword).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(s.mariadbAdminPassword).not.toBe(s.rabbitmqAdminPassword);
    // An Erlang cookie: upper-case letters and digits.
    expect(s.erlangCookie).toMatch(/^[A-Z0-9]{48}$/);
    expect(s.services).toEqual({});
    expect(JSON.parse(readFileSync(secretsPath(d), 'utf8'))).toEqual(s);
  });

  it('later uses reuse the stored secrets', () => {
    const d = freshDir();
    const first = ensureSecrets(d);
    expect(ensureSecrets(d)).toEqual(first);
    expect(readSecrets(d)).toEqual(first);
  });

  it('is absent until created', () => {
    expect(readSecrets(freshDir())).toBeUndefined();
  });

  it('writing leaves no temporary file and keeps 0600', () => {
    const d = freshDir();
    const s = ensureSecrets(d);
    writeSecrets(d, { ...s, services: { nova: generatePassword() } });
    expect(readdirSync(d)).toEqual(['secrets.json']);
    expect(statSync(secretsPath(d)).mode & 0o777).toBe(0o600);
    expect(readSecrets(d)?.services.nova).toHaveLength(40);
  });

  it.each([
    ['not JSON', '{oops'],
    ['missing fields', '{"mariadbAdminPassword":"x"}'],
  ])('a damaged file (%s) is a clear error, never silently regenerated', (_why, text) => {
    const d = freshDir();
    writeFileSync(secretsPath(d), text);
    let err: unknown;
    try {
      ensureSecrets(d);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OsbError);
    expect((err as OsbError).line).toMatch(/secrets file .*secrets\.json is damaged/);
    expect(readFileSync(secretsPath(d), 'utf8')).toBe(text);
    expect(existsSync(`${secretsPath(d)}.tmp`)).toBe(false);
  });
});
