"""oslo.cache set/get loop, configured only from osb's oslo ini ([cache] section), as a service
(e.g. keystone) uses it.

Usage: /usr/bin/python3 ha_cache_loop.py CONFIG_FILE

Output lines (t = time.time()):
  READY <t> <backend> <servers>
  A <i> <t> hit|miss <seconds the set+get took>
  E <i> <t> <ExceptionClass> <message>       (an exception that reached the caller)
  DONE <ops> <hits> <misses> <errors>
Runs until stdin is closed.
"""
import faulthandler
import signal
import sys
import threading
import time

from oslo_cache import core as cache
from oslo_config import cfg


# SIGUSR1 prints every thread's stack to stderr: the test asks for it when the loop stalls.
faulthandler.register(signal.SIGUSR1, all_threads=True)

def out(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def main():
    conf_file = sys.argv[1]
    conf = cfg.CONF
    cache.configure(conf)
    conf(['--config-file', conf_file], project='osb-ha')
    region = cache.create_region()
    cache.configure_cache_region(conf, region)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    out(f'READY {time.time():.6f} {conf.cache.backend} {",".join(conf.cache.memcache_servers)}')
    ops = hits = misses = errors = 0
    i = 0
    while not stop.is_set():
        i += 1
        key = f'osb-ha-{i % 200}'
        value = {'i': i}
        t0 = time.time()
        try:
            region.set(key, value)
            got = region.get(key)
            ops += 1
            if got == value:
                hits += 1
                out(f'A {i} {time.time():.6f} hit {time.time() - t0:.3f}')
            else:
                misses += 1
                out(f'A {i} {time.time():.6f} miss {time.time() - t0:.3f}')
        except Exception as e:
            errors += 1
            out(f'E {i} {time.time():.6f} {type(e).__name__} {" ".join(str(e).split())[:200]}')
        time.sleep(0.01)
    out(f'DONE {ops} {hits} {misses} {errors}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
