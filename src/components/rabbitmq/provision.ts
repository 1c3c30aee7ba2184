import { managementApi, vhostPath, type RabbitmqEndpoint } from './client.js';
import { crypto } from '../../util/builtin.js';

export interface VhostGrant {
  user: string;
  password: string;
  vhost: string;
  /** New queues in this vhost default to quorum queues (replicated). */
  quorum: boolean;
}

async function exists(admin: RabbitmqEndpoint, path: string): Promise<unknown | undefined> {
  try {
    return await managementApi(admin, 'GET', path);
  } catch (err) {
    if (/HTTP 404/.test((err as Error).message)) return undefined;
    throw err;
  }
}

/** Checks a password against RabbitMQ's stored salted SHA-256 hash, without logging in. */
export function passwordMatchesHash(password: string, passwordHash: string, algorithm: string): boolean {
  if (algorithm !== 'rabbit_password_hashing_sha256') return false;
  const raw = Buffer.from(passwordHash, 'base64');
  const salt = raw.subarray(0, 4);
  const digest = crypto()
    .createHash('sha256')
    .update(Buffer.concat([salt, Buffer.from(password, 'utf8')]))
    .digest();
  return raw.length === 36 && digest.equals(raw.subarray(4));
}

/** A vhost, and a user with full permissions on that vhost only. Idempotent; returns whether anything changed. */
export async function ensureVhostGrant(admin: RabbitmqEndpoint, g: VhostGrant): Promise<boolean> {
  let changed = false;
  const vhost = (await exists(admin, `/vhosts/${vhostPath(g.vhost)}`)) as { default_queue_type?: string } | undefined;
  const wantType = g.quorum ? 'quorum' : 'classic';
  // RabbitMQ 3.10/3.11 report an unset type as the string "undefined" (classic).
  const haveType = !vhost?.default_queue_type || vhost.default_queue_type === 'undefined' ? 'classic' : vhost.default_queue_type;
  if (!vhost || haveType !== wantType) {
    // 3.10 (Debian 12) reads only `defaultqueuetype` and silently ignores `default_queue_type`; newer ones read either.
    await managementApi(admin, 'PUT', `/vhosts/${vhostPath(g.vhost)}`, {
      description: `osb: ${g.user}`,
      defaultqueuetype: wantType,
      default_queue_type: wantType,
    });
    changed = true;
  }
  const user = (await exists(admin, `/users/${encodeURIComponent(g.user)}`)) as { password_hash: string; hashing_algorithm: string } | undefined;
  if (!user || !passwordMatchesHash(g.password, user.password_hash, user.hashing_algorithm)) {
    await managementApi(admin, 'PUT', `/users/${encodeURIComponent(g.user)}`, { password: g.password, tags: '' });
    changed = true;
  }
  const want = { configure: '.*', write: '.*', read: '.*' };
  const perm = (await exists(admin, `/permissions/${vhostPath(g.vhost)}/${encodeURIComponent(g.user)}`)) as typeof want | undefined;
  if (!perm || perm.configure !== want.configure || perm.write !== want.write || perm.read !== want.read) {
    await managementApi(admin, 'PUT', `/permissions/${vhostPath(g.vhost)}/${encodeURIComponent(g.user)}`, want);
    changed = true;
  }
  return changed;
}

export async function dropVhostGrant(admin: RabbitmqEndpoint, user: string, vhost: string): Promise<void> {
  await managementApi(admin, 'DELETE', `/vhosts/${vhostPath(vhost)}`);
  await managementApi(admin, 'DELETE', `/users/${encodeURIComponent(user)}`);
}
