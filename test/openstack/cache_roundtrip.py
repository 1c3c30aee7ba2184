"""oslo.cache set/get through memcached, configured only from osb's memcache_servers.

Usage: /usr/bin/python3 cache_roundtrip.py MEMCACHE_SERVERS [BACKEND]
BACKEND defaults to oslo_cache.memcache_pool (what osb's [cache] section names).
Prints one JSON line; exit 0 only when the value read back equals the one written.
"""
import json
import sys
import uuid

from oslo_config import cfg
from oslo_cache import core as cache


def main():
    servers = sys.argv[1]
    backend = sys.argv[2] if len(sys.argv) > 2 else 'oslo_cache.memcache_pool'
    conf = cfg.CONF
    cache.configure(conf)
    conf([], project='osb-test')
    conf.set_override('enabled', True, group='cache')
    conf.set_override('backend', backend, group='cache')
    conf.set_override('memcache_servers', servers.split(','), group='cache')
    region = cache.create_region()
    cache.configure_cache_region(conf, region)
    key = 'osb-test-' + uuid.uuid4().hex
    value = {'answer': 42, 'key': key}
    region.set(key, value)
    got = region.get(key)
    region.delete(key)
    gone = region.get(key)
    print(json.dumps({'backend': backend, 'got': got, 'deleted': gone is cache.NO_VALUE or repr(gone) == '<dogpile.cache.api.NoValue object>'}))
    return 0 if got == value else 1


if __name__ == '__main__':
    sys.exit(main())
