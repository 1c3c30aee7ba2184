import { type MemcachedExporter, startMemcachedExporter } from '../../components/memcached/exporter.js';
import { OsbError } from '../../util/errors.js';

/** `osb exporter memcached`: runs until SIGTERM/SIGINT, then closes its listener and exits 0. */
export async function memcachedExporterCommand(o: { listen: string; server: string[] }): Promise<number> {
  if (!o.server.length) throw new OsbError('no memcached server given', 'add --server HOST:PORT (repeatable)', 2);
  let exporter: MemcachedExporter;
  try {
    exporter = await startMemcachedExporter({ listen: o.listen, servers: o.server });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE')
      throw new OsbError(`cannot listen on ${o.listen}: the port is already in use`, 'choose another --listen port (memcached.exporterPort)', 1);
    throw new OsbError(e.message, 'give --listen and --server as host:port, e.g. --listen 127.0.0.1:9150 --server 127.0.0.1:11211', 2);
  }
  process.stderr.write(`osb memcached exporter: serving http://${o.listen}/metrics for ${o.server.join(', ')}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await exporter.close();
  return 0;
}
