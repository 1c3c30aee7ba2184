"""oslo.messaging RPC round trip: an RPC server and a client in one process, over TRANSPORT_URL.

Usage: /usr/bin/python3 rpc_roundtrip.py TRANSPORT_URL
Prints one JSON line: {"reply": ..., "cast_seen": ...}. Exit 0 only when the call got the right reply.
"""
import json
import sys
import threading
import time
import uuid

from oslo_config import cfg
import oslo_messaging as messaging


class Endpoint:
    target = messaging.Target(version='1.0')

    def __init__(self):
        self.casts = []
        self.cast_event = threading.Event()

    def echo(self, ctxt, value):
        return {'echo': value, 'from': 'server'}

    def note(self, ctxt, value):
        self.casts.append(value)
        self.cast_event.set()


def main():
    url = sys.argv[1]
    # cfg.CONF: oslo.messaging registers its options there (a fresh ConfigOpts lacks some it expects).
    cfg.CONF([], project='osb-test')
    # The RPC client's metrics thread otherwise keeps the process alive 10 s after the work is done.
    cfg.CONF.set_override('metrics_thread_stop_timeout', 1, group='oslo_messaging_metrics')
    transport = messaging.get_rpc_transport(cfg.CONF, url=url)
    topic = 'osb_test_' + uuid.uuid4().hex[:8]
    endpoint = Endpoint()
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic=topic, server='srv1'), [endpoint], executor='threading')
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic, version='1.0'), timeout=20)
        t0 = time.time()
        reply = client.call({}, 'echo', value='ping-42')
        client.cast({}, 'note', value='cast-1')
        endpoint.cast_event.wait(10)
        print(json.dumps({'reply': reply, 'cast_seen': endpoint.casts, 'seconds': round(time.time() - t0, 3)}))
        ok = reply == {'echo': 'ping-42', 'from': 'server'} and endpoint.casts == ['cast-1']
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
