"""Debian's OpenStack client libraries, configured only from an oslo.config file osb printed.

Usage: /usr/bin/python3 tls_clients.py db|rpc|cache CONFIG_FILE
  db:    oslo.db engine from [database] connection; prints the session's Ssl_cipher and version.
  rpc:   an oslo.messaging RPC call and reply over [DEFAULT] transport_url (+ [oslo_messaging_rabbit]).
  cache: an oslo.cache set/get with the [cache] section as printed.
Prints one JSON line; exit 0 only when the round trip worked.
"""
import json
import sys
import threading
import uuid

from oslo_config import cfg


def db(conf):
    from oslo_db import options as db_options
    from oslo_db.sqlalchemy import engines
    import sqlalchemy
    db_options.set_defaults(conf)
    conf(['--config-file', sys.argv[2]], project='osb-test')
    engine = engines.create_engine(conf.database.connection, max_retries=0)
    with engine.connect() as c:
        cipher = c.execute(sqlalchemy.text("SHOW SESSION STATUS LIKE 'Ssl_cipher'")).fetchone()[1]
        version = c.execute(sqlalchemy.text("SHOW SESSION STATUS LIKE 'Ssl_version'")).fetchone()[1]
    print(json.dumps({'ssl_cipher': cipher, 'ssl_version': version}))
    return 0 if cipher else 1


def rpc(conf):
    import oslo_messaging as messaging
    conf(['--config-file', sys.argv[2]], project='osb-test')
    conf.set_override('metrics_thread_stop_timeout', 1, group='oslo_messaging_metrics')
    transport = messaging.get_rpc_transport(conf)
    topic = 'osb_tls_' + uuid.uuid4().hex[:8]

    class Endpoint:
        target = messaging.Target(version='1.0')

        def echo(self, ctxt, value):
            return {'echo': value}

    server = messaging.get_rpc_server(transport, messaging.Target(topic=topic, server='s1'), [Endpoint()], executor='threading')
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic, version='1.0'), timeout=20)
        reply = client.call({}, 'echo', value='tls-ping')
        print(json.dumps({'reply': reply, 'ssl': conf.oslo_messaging_rabbit.ssl}))
        return 0 if reply == {'echo': 'tls-ping'} else 1
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def cache(conf):
    from oslo_cache import core
    core.configure(conf)
    conf(['--config-file', sys.argv[2]], project='osb-test')
    region = core.create_region()
    core.configure_cache_region(conf, region)
    key, value = 'osb-tls-' + uuid.uuid4().hex[:8], uuid.uuid4().hex
    region.set(key, value)
    got = region.get(key)
    print(json.dumps({'backend': conf.cache.backend, 'tls_enabled': conf.cache.tls_enabled, 'same': got == value}))
    return 0 if got == value else 1


if __name__ == '__main__':
    sys.exit({'db': db, 'rpc': rpc, 'cache': cache}[sys.argv[1]](cfg.CONF))
