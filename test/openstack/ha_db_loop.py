"""A service-like write loop through oslo.db's enginefacade, configured only from osb's oslo ini.

Usage: /usr/bin/python3 ha_db_loop.py CONFIG_FILE TABLE

CONFIG_FILE is `osb endpoints --service SVC --format oslo` as written to disk: oslo.db reads
`[database] connection` from it exactly as a service would (global enginefacade, cfg.CONF).
Every commit uses a fresh writer transaction with a new id; an id is printed as acknowledged
only after its COMMIT returned. Failed ids are never reused (the commit may or may not exist).

Output, one line per event (t = time.time(), dur = seconds the attempt took):
  READY <t> <host:port oslo.db connects to>
  A <id> <t>
  E <id> <t> <dur> <ExceptionClass> <message>
  DONE <acked> <errors>
Runs until stdin is closed.
"""
import faulthandler
import signal
import sys
import threading
import time

from oslo_config import cfg
from oslo_db.sqlalchemy import enginefacade
import sqlalchemy as sa


@enginefacade.transaction_context_provider
class Context:
    pass


# SIGUSR1 prints every thread's stack to stderr: the test asks for it when the loop stalls.
faulthandler.register(signal.SIGUSR1, all_threads=True)

def out(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def main():
    conf_file, table = sys.argv[1], sys.argv[2]
    cfg.CONF(['--config-file', conf_file], project='osb-ha')
    # What a service gets from its [database] section; nothing else is tuned here.
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()

    with enginefacade.writer.using(Context()) as session:
        session.execute(sa.text(
            f'CREATE TABLE IF NOT EXISTS {table} (id INT PRIMARY KEY, at DOUBLE NOT NULL) ENGINE=InnoDB'))
    engine = enginefacade.writer.get_engine()
    out(f'READY {time.time():.6f} {engine.url.host}:{engine.url.port}')

    acked = errors = 0
    next_id = 1
    while not stop.is_set():
        i = next_id
        next_id += 1
        t0 = time.time()
        try:
            with enginefacade.writer.using(Context()) as session:
                session.execute(sa.text(f'INSERT INTO {table} (id, at) VALUES (:id, :at)'), {'id': i, 'at': t0})
            acked += 1
            out(f'A {i} {time.time():.6f}')
        except Exception as e:  # what a service would turn into a failed API request
            errors += 1
            t1 = time.time()
            msg = ' '.join(str(e).split())[:200]
            out(f'E {i} {t1:.6f} {t1 - t0:.3f} {type(e).__name__} {msg}')
            time.sleep(0.05)
            continue
        time.sleep(0.01)
    out(f'DONE {acked} {errors}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
