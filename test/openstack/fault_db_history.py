"""A write loop through oslo.db's enginefacade that records a history for the fault checker.

Usage: /usr/bin/python3 fault_db_history.py CONFIG_FILE TABLE

CONFIG_FILE is `osb endpoints --service SVC --format oslo` as written to disk (oslo.db reads
`[database] connection` from it, as a service does). Each operation inserts one row with a new
client id into a table whose key is a server-side AUTO_INCREMENT, so a commit applied twice
would show up as a duplicate id. An id is acknowledged only after COMMIT returned; a failed id
is never reused (its commit may or may not exist: indeterminate).

History lines (t = time.time()):
  READY <t> <host:port>
  S <id> <t>                     sent
  A <id> <t> <dur>               acknowledged (COMMIT returned)
  E <id> <t> <dur> <Class> <msg> failed
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
    cfg.CONF(['--config-file', conf_file], project='osb-faults')
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()

    with enginefacade.writer.using(Context()) as session:
        session.execute(sa.text(
            f'CREATE TABLE IF NOT EXISTS {table} (seq BIGINT AUTO_INCREMENT PRIMARY KEY, '
            'id INT NOT NULL, at DOUBLE NOT NULL, KEY (id)) ENGINE=InnoDB'))
    engine = enginefacade.writer.get_engine()
    out(f'READY {time.time():.6f} {engine.url.host}:{engine.url.port}')

    acked = errors = 0
    next_id = 1
    while not stop.is_set():
        i = next_id
        next_id += 1
        t0 = time.time()
        out(f'S {i} {t0:.6f}')
        try:
            with enginefacade.writer.using(Context()) as session:
                session.execute(sa.text(f'INSERT INTO {table} (id, at) VALUES (:id, :at)'), {'id': i, 'at': t0})
            acked += 1
            t1 = time.time()
            out(f'A {i} {t1:.6f} {t1 - t0:.3f}')
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
