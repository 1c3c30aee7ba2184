"""oslo.messaging RPC server and client (two transports, so two independent sets of
connections) that keep completing calls, configured only from osb's oslo ini for one service.

Usage: /usr/bin/python3 ha_rpc_loop.py CONFIG_FILE [CALL_TIMEOUT]

The ini gives transport_url (every RabbitMQ node) and [oslo_messaging_rabbit] (quorum queues,
reconnect intervals). Each call n is retried, with the same n, until it is answered: a reply lost
with a killed node shows up as a timeout and a retry, never as a call left without an answer.

Output lines (t = time.time()):
  READY <t>
  A <n> <t> <attempts> <seconds from first attempt to answer>
  R <n> <t> <ExceptionClass> <message>      (an attempt that failed; the call is retried)
  DONE <answered> <retries> <unanswered>
oslo.messaging's own log (reconnects) goes to stderr, each line starting with its time.time(). Runs until stdin is closed.
"""
import logging
import faulthandler
import signal
import sys
import threading
import time
import uuid

from oslo_config import cfg
import oslo_messaging as messaging


class Endpoint:
    target = messaging.Target(version='1.0')

    def __init__(self):
        self.seen = set()

    def echo(self, ctxt, n):
        self.seen.add(n)
        return {'n': n}


# SIGUSR1 prints every thread's stack to stderr: the test asks for it when the loop stalls.
faulthandler.register(signal.SIGUSR1, all_threads=True)

def out(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def main():
    conf_file = sys.argv[1]
    call_timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 5
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format='%(created).3f %(name)s %(levelname)s %(message)s')
    cfg.CONF(['--config-file', conf_file], project='osb-ha')
    cfg.CONF.set_override('metrics_thread_stop_timeout', 1, group='oslo_messaging_metrics')
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()

    server_transport = messaging.get_rpc_transport(cfg.CONF)
    client_transport = messaging.get_rpc_transport(cfg.CONF)
    topic = 'osb_ha_' + uuid.uuid4().hex[:8]
    endpoint = Endpoint()
    server = messaging.get_rpc_server(
        server_transport, messaging.Target(topic=topic, server='srv1'), [endpoint], executor='threading')
    server.start()
    client = messaging.get_rpc_client(client_transport, messaging.Target(topic=topic, version='1.0'),
                                      timeout=call_timeout)
    answered = retries = 0
    unanswered = 0
    ready = False
    n = 0
    try:
        while not stop.is_set():
            n += 1
            first = time.time()
            attempts = 0
            while True:
                attempts += 1
                try:
                    reply = client.call({}, 'echo', n=n)
                    if reply != {'n': n}:
                        raise RuntimeError(f'wrong reply {reply!r}')
                    break
                except Exception as e:
                    retries += 1
                    out(f'R {n} {time.time():.6f} {type(e).__name__} {" ".join(str(e).split())[:200]}')
                    if stop.is_set() and time.time() - first > 60:
                        unanswered += 1
                        reply = None
                        break
                    time.sleep(0.2)
            if reply is None:
                break
            answered += 1
            if not ready:
                ready = True
                out(f'READY {time.time():.6f}')
            out(f'A {n} {time.time():.6f} {attempts} {time.time() - first:.3f}')
            time.sleep(0.05)
    finally:
        out(f'DONE {answered} {retries} {unanswered}')
        server.stop()
        server.wait()
        server_transport.cleanup()
        client_transport.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
