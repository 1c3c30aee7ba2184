/**
 * osb's private CA and the per-node certificates (local target). The openssl CLI does the
 * cryptography; private keys are written by openssl into files created 0600 beforehand and
 * are never passed on a command line or logged. Node's X509Certificate reads certificates back.
 *
 * Layout: `<stateDir>/tls/ca.pem` (the bundle clients trust, 0644), `<stateDir>/tls/ca-key.pem`
 * (0600), and in every node's own folder `tls/{cert.pem,key.pem,ca.pem}` — the daemon reads only
 * its own folder. Rotation rewrites those files in place (same paths), so the daemons' config
 * does not change and a reload (not a restart) picks the new certificate up.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { crypto, net } from '../util/builtin.js';
import { join } from 'node:path';
import { OsbError } from '../util/errors.js';
import { runQuiet } from '../util/exec.js';
import type { Config } from './schema.js';

export const OPENSSL = '/usr/bin/openssl';

export type TlsConfig = Config['tls'];

/** Files one node's daemon reads. */
export interface NodeTlsFiles {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

export const tlsDir = (stateDir: string) => join(stateDir, 'tls');
/**
 * `cert` is the bundle every daemon and client trusts: the signing CA, then any retired CA still
 * trusted during a CA rotation (`retired`). `signing` is the CA certificate that signs node
 * certificates (`key` its key); deployments made before CA rotation existed have only `cert`.
 */
export const caFiles = (stateDir: string) => ({
  cert: join(tlsDir(stateDir), 'ca.pem'),
  key: join(tlsDir(stateDir), 'ca-key.pem'),
  signing: join(tlsDir(stateDir), 'ca-signing.pem'),
  retired: join(tlsDir(stateDir), 'ca-retired.pem'),
});
/** The CA certificate that signs node certificates (the bundle itself for the operator's CA and for older deployments). */
export function signingCaFile(stateDir: string): string {
  const ca = caFiles(stateDir);
  return existsSync(ca.signing) ? ca.signing : ca.cert;
}
/** The CA bundle clients (OpenStack services, osb itself) trust. */
export const clientCaFile = (stateDir: string) => caFiles(stateDir).cert;

export function nodeTlsFiles(nodeDir: string): NodeTlsFiles {
  const dir = join(nodeDir, 'tls');
  return { dir, ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

/** What a node certificate says, read back with Node's X509Certificate. */
export interface CertInfo {
  serial: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  /** DNS names and IP addresses. */
  sans: string[];
}

export function readCert(file: string): CertInfo {
  const x = new (crypto().X509Certificate)(readFileSync(file));
  const sans = (x.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => s.replace(/^(DNS|IP Address):/, ''));
  return { serial: x.serialNumber, subject: x.subject, notBefore: new Date(x.validFrom), notAfter: new Date(x.validTo), sans };
}

/** Every address a client of a local node may dial: the client host, the bind address, loopback by number and by name. */
export function localSans(config: Config): string[] {
  const out = new Set<string>(['localhost', '127.0.0.1']);
  if (config.bindAddress !== '0.0.0.0') out.add(config.bindAddress);
  for (const s of config.tls.extraSans) out.add(s);
  return [...out];
}

/** Creates a file 0600 before openssl writes a key into it (openssl keeps the mode). */
function privateFile(path: string): void {
  writeFileSync(path, '', { mode: 0o600 });
  chmodSync(path, 0o600);
}

function openssl(args: string[], input?: string): Promise<string> {
  if (!existsSync(OPENSSL)) throw new OsbError(`tls.enabled needs ${OPENSSL} to issue certificates`, 'install it: apt-get install -y openssl', 2);
  return runQuiet(OPENSSL, args, { input, timeoutMs: 30_000 });
}

function assertReadable(key: string, file: string | undefined): string {
  if (!file || !existsSync(file))
    throw new OsbError(`config key "${key}": file ${file} does not exist`, `point ${key} at a readable PEM file, or unset it to let osb issue its own`, 2);
  return file;
}

/**
 * The CA of this deployment: osb's own (created once, key 0600), or the operator's `tls.caFile`
 * copied into the bundle. Returns the bundle path.
 */
export async function ensureCa(stateDir: string, tls: TlsConfig): Promise<string> {
  const dir = tlsDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = caFiles(stateDir);
  if (tls.caFile) {
    const src = assertReadable('tls.caFile', tls.caFile);
    if (!existsSync(ca.cert) || readFileSync(ca.cert, 'utf8') !== readFileSync(src, 'utf8')) copyFileSync(src, ca.cert);
    chmodSync(ca.cert, 0o644);
    // The operator's bundle is the whole trust: nothing of osb's own CA rotation applies.
    rmSync(ca.signing, { force: true });
    rmSync(ca.retired, { force: true });
    return ca.cert;
  }
  if (existsSync(ca.cert) && existsSync(ca.key)) {
    // A deployment from before CA rotation: its bundle is the one signing certificate.
    if (!existsSync(ca.signing)) copyFileSync(ca.cert, ca.signing);
    return ca.cert;
  }
  await newCa(stateDir, tls, ca.key, ca.signing);
  writeBundle(stateDir);
  return ca.cert;
}

/** A fresh CA: key (0600, written by openssl) and self-signed certificate, into the given files. */
async function newCa(stateDir: string, tls: TlsConfig, keyFile: string, certFile: string): Promise<void> {
  mkdirSync(tlsDir(stateDir), { recursive: true, mode: 0o700 });
  privateFile(keyFile);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    keyFile,
    '-sha256',
    '-days',
    String(tls.caDays),
    '-subj',
    `/O=osb/CN=osb CA ${crypto().randomBytes(4).toString('hex')}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    certFile,
  ]);
  chmodSync(certFile, 0o644);
}

/** Rewrites the trusted bundle (signing CA, then retired ones) atomically. */
function writeBundle(stateDir: string): void {
  const ca = caFiles(stateDir);
  const parts = [readFileSync(ca.signing, 'utf8')];
  if (existsSync(ca.retired)) parts.push(readFileSync(ca.retired, 'utf8'));
  const tmp = `${ca.cert}.new`;
  writeFileSync(tmp, parts.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join(''));
  replaceFile(tmp, ca.cert, 0o644);
}

/** The CA certificates in a PEM bundle. */
export function bundleCerts(file: string): import('node:crypto').X509Certificate[] {
  const pems = readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return pems.map((p) => new (crypto().X509Certificate)(p));
}

/**
 * `osb certs rotate --ca`: a new signing CA. The old one moves to the retired list, so the bundle
 * trusts both until every node carries a certificate from the new CA (see `dropRetiredCa`).
 */
export async function rotateCa(stateDir: string, tls: TlsConfig): Promise<CertInfo> {
  if (tls.caFile)
    throw new OsbError(
      "the CA is the operator's (tls.caFile): osb cannot issue a new one",
      'put the old and the new CA certificate in tls.caFile, new node certificates in tls.certFile/tls.keyFile, then run `osb certs rotate`',
      2,
    );
  await ensureCa(stateDir, tls);
  const ca = caFiles(stateDir);
  const tmpKey = `${ca.key}.new`;
  const tmpCert = `${ca.signing}.new`;
  await newCa(stateDir, tls, tmpKey, tmpCert);
  const retired = existsSync(ca.retired) ? readFileSync(ca.retired, 'utf8') : '';
  const old = readFileSync(ca.signing, 'utf8');
  const tmpRetired = `${ca.retired}.new`;
  writeFileSync(tmpRetired, old + (old.endsWith('\n') ? '' : '\n') + retired);
  replaceFile(tmpRetired, ca.retired, 0o644);
  replaceFile(tmpKey, ca.key, 0o600);
  replaceFile(tmpCert, ca.signing, 0o644);
  writeBundle(stateDir);
  return readCert(ca.signing);
}

/** Once every node's certificate comes from the signing CA, the retired CAs leave the bundle. Returns whether the bundle changed. */
export function dropRetiredCa(stateDir: string, nodeCertFiles: string[]): boolean {
  const ca = caFiles(stateDir);
  if (!existsSync(ca.retired) || !existsSync(ca.signing)) return false;
  if (!nodeCertFiles.every((f) => existsSync(f) && issuedBySigningCa(f, stateDir))) return false;
  rmSync(ca.retired, { force: true });
  writeBundle(stateDir);
  return true;
}

/** Whether a node certificate was signed by the current signing CA. */
export function issuedBySigningCa(certFile: string, stateDir: string): boolean {
  try {
    const cert = new (crypto().X509Certificate)(readFileSync(certFile));
    const [ca] = bundleCerts(signingCaFile(stateDir));
    return !!ca && cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** The node's copy of the bundle differs from the deployment's (a CA was added or retired): copy it and reload. */
export function nodeBundleStale(files: NodeTlsFiles, stateDir: string): boolean {
  return existsSync(files.ca) && readFileSync(files.ca, 'utf8') !== readFileSync(clientCaFile(stateDir), 'utf8');
}

/** Replaces the node's copy of the bundle atomically. */
export function refreshNodeBundle(files: NodeTlsFiles, stateDir: string): void {
  const tmp = `${files.ca}.new`;
  copyFileSync(clientCaFile(stateDir), tmp);
  replaceFile(tmp, files.ca, 0o644);
}

/** A node certificate that must be (re)issued: missing, another CA, SANs changed, or past 2/3 of its lifetime. */
export function renewalReason(files: NodeTlsFiles, stateDir: string, sans: string[], now = new Date()): string | undefined {
  if (!existsSync(files.cert) || !existsSync(files.key) || !existsSync(files.ca)) return 'no certificate yet';
  let info: CertInfo;
  try {
    info = readCert(files.cert);
  } catch {
    return 'certificate unreadable';
  }
  // osb's own CA: a certificate from another (a retired) CA is re-issued; a bundle that merely
  // gained or lost a retired CA is copied over (nodeBundleStale). The operator's CA: a new bundle
  // means new files from tls.certFile/keyFile.
  if (existsSync(caFiles(stateDir).signing)) {
    if (!issuedBySigningCa(files.cert, stateDir)) return 'signed by another CA';
  } else if (nodeBundleStale(files, stateDir)) return 'CA changed';
  const missing = sans.filter((s) => !info.sans.includes(s));
  if (missing.length) return `certificate lacks ${missing.join(', ')}`;
  if (now.getTime() > renewalDueAt(info).getTime()) return `past 2/3 of its lifetime (expires ${info.notAfter.toISOString()})`;
  return undefined;
}

/** When a certificate becomes due for renewal: past 2/3 of its lifetime. */
export function renewalDueAt(info: Pick<CertInfo, 'notBefore' | 'notAfter'>): Date {
  const life = info.notAfter.getTime() - info.notBefore.getTime();
  return new Date(info.notBefore.getTime() + (life * 2) / 3);
}

/** Writes `content` (or moves `tmp`) into `dest` atomically: a daemon reading during rotation sees the old file or the new one. */
function replaceFile(tmp: string, dest: string, mode: number): void {
  chmodSync(tmp, mode);
  renameSync(tmp, dest);
}

/**
 * Issues (or re-issues) one node's certificate, signed by osb's CA, or installs the operator's
 * certificate and key. Key and certificate are replaced atomically, key first is never visible
 * alone: both temporary files are written before either is renamed.
 */
export async function issueNodeCert(stateDir: string, tls: TlsConfig, nodeName: string, files: NodeTlsFiles, sans: string[]): Promise<CertInfo> {
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  const tmpKey = `${files.key}.new`;
  const tmpCert = `${files.cert}.new`;
  const tmpCa = `${files.ca}.new`;
  if (tls.certFile || tls.keyFile) {
    privateFile(tmpKey);
    writeFileSync(tmpKey, readFileSync(assertReadable('tls.keyFile', tls.keyFile)));
    copyFileSync(assertReadable('tls.certFile', tls.certFile), tmpCert);
  } else {
    const ca = caFiles(stateDir);
    const csr = join(files.dir, 'req.csr');
    const ext = join(files.dir, 'ext.cnf');
    privateFile(tmpKey);
    await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', tmpKey]);
    await openssl(['req', '-new', '-key', tmpKey, '-subj', `/O=osb/CN=${nodeName}`, '-out', csr]);
    const altNames = sans.map((s) => (net().isIP(s) ? `IP:${s}` : `DNS:${s}`)).join(',');
    writeFileSync(
      ext,
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${altNames}\n`,
    );
    await openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      signingCaFile(stateDir),
      '-CAkey',
      ca.key,
      '-set_serial',
      `0x${crypto()
        .randomBytes(16)
        .toString('hex')
        .replace(/^[89a-f]/, '1')}`,
      '-days',
      String(tls.certDays),
      '-sha256',
      '-extfile',
      ext,
      '-out',
      tmpCert,
    ]);
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
  }
  copyFileSync(clientCaFile(stateDir), tmpCa);
  replaceFile(tmpCa, files.ca, 0o644);
  replaceFile(tmpKey, files.key, 0o600);
  replaceFile(tmpCert, files.cert, 0o644);
  const info = readCert(files.cert);
  if (tls.certFile) {
    const missing = sans.filter((s) => !info.sans.includes(s));
    if (missing.length) {
      throw new OsbError(
        `tls.certFile ${tls.certFile} does not name ${missing.join(', ')} (its SANs: ${info.sans.join(', ') || 'none'})`,
        `issue a certificate whose subjectAltName covers every address clients dial (${sans.join(', ')})`,
        2,
      );
    }
  }
  return info;
}

/** Days until a certificate expires (negative once expired). */
export const daysLeft = (info: CertInfo, now = new Date()) => Math.floor((info.notAfter.getTime() - now.getTime()) / 86_400_000);

/** `osb status` warns this many days before a node certificate expires. */
export const EXPIRY_WARNING_DAYS = 30;
