"""An MQTT 3.1.1 peer no one here wrote: the paho-mqtt 2.x Python client, driven from the command line.

Every subcommand connects to 127.0.0.1:--port only, and prints lines on stdout (flushed at once):

  connected <session-present 0|1>      once CONNACK accepts the connection
  subscribed <granted qos> ...         once SUBACK arrives (one code per topic; 128 is failure)
  msg <topic> <qos> <retain 0|1> <hex payload>
                                       one per message received (hex is empty for an empty payload;
                                       the same format as `mosquitto_sub -F 'msg %t %q %r %x'`)
  published                            once every PUBLISH is complete (QoS 1 PUBACK, QoS 2 PUBCOMP)
  disconnected                         after a clean DISCONNECT

Subcommands:
  sub  --port P --topic T [--topic T2 ...] --qos Q --count N [--id ID] [--clean 0|1] [--no-subscribe]
       [--timeout S]
       Subscribes (unless --no-subscribe: a persistent session that already has its subscriptions),
       prints the first N messages, then disconnects cleanly and exits 0. Exits 2 if fewer than N
       arrive within --timeout seconds. --count 0 subscribes, disconnects and exits.
  pub  --port P --topic T --qos Q [--qos Q2 ...] --message M [--message M2 ...] [--retain] [--id ID]
       Publishes each message in turn (the n-th --qos, or the last one given), waits until each is
       complete, disconnects cleanly and exits 0 (2 on timeout).
  will --port P --id ID --will-topic T --will-message M --will-qos Q [--will-retain] [--then wait|disconnect]
       Connects with a will. "wait" (the default) then stays connected until killed; "disconnect"
       sends DISCONNECT (so the broker must discard the will) and exits 0.

  burst --port P --count N --username U --password W [--cafile CA]
       Opens N connections at once, each logging in as U with W, waits for every CONNACK (or the
       connection's end), prints "burst <outcome>:<count> ..." (outcomes: accepted, refused-<paho
       reason code: 134 for CONNACK 4, 135 for 5>, dropped) and exits 0 (2 on timeout).

Every subcommand takes --cafile CA (TLS, trusting CA; the server is checked against 127.0.0.1),
--cert/--key (a client certificate) and --username/--password, and --websocket PATH (MQTT over
WebSocket at ws://127.0.0.1:P/PATH, or wss:// with --cafile: paho's own websockets transport, which
offers subprotocol "mqtt") with any --header "Name: value" for the upgrade request.

Exits 3 if the broker refuses or drops the connection unexpectedly. Ends by itself once its parent (the
test) is gone.
"""
import argparse
import os
import sys
import time

from paho.mqtt.client import Client, CallbackAPIVersion, MQTTv311

HOST = "127.0.0.1"


def say(line):
    print(line, flush=True)


class Peer:
    def __init__(self, args, will=None):
        self.parent = os.getppid()
        self.connected = None  # None: waiting; True: accepted; False: refused or dropped
        self.session_present = False
        self.suback = None
        self.received = []
        self.disconnected = False
        self.expect_disconnect = False
        client_id = args.id or "paho-%d" % os.getpid()
        self.client = Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=bool(args.clean), protocol=MQTTv311, reconnect_on_failure=False,
                             transport="websockets" if args.websocket else "tcp")
        if args.websocket:
            headers = dict(header.split(": ", 1) for header in args.header)
            self.client.ws_set_options(path=args.websocket, headers=headers or None)
        self.client.on_connect = self.on_connect
        self.client.on_subscribe = self.on_subscribe
        self.client.on_message = self.on_message
        self.client.on_disconnect = self.on_disconnect
        if args.cafile:
            self.client.tls_set(ca_certs=args.cafile, certfile=args.cert, keyfile=args.key)
        if args.username is not None:
            self.client.username_pw_set(args.username, args.password)
        if will is not None:
            topic, payload, qos, retain = will
            self.client.will_set(topic, payload, qos, retain)

    # Callbacks (run inside client.loop, on this thread).
    def on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.connected = False
            say("refused %s" % reason_code)
            return
        self.connected = True
        self.session_present = bool(flags.session_present)
        say("connected %d" % (1 if self.session_present else 0))

    def on_subscribe(self, client, userdata, mid, reason_code_list, properties):
        self.suback = [code.value for code in reason_code_list]
        say("subscribed " + " ".join(str(code) for code in self.suback))

    def on_message(self, client, userdata, message):
        self.received.append(message)
        say("msg %s %d %d %s" % (message.topic, message.qos, 1 if message.retain else 0, message.payload.hex()))

    def on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.disconnected = True
        if not self.expect_disconnect:
            say("dropped %s" % reason_code)
            self.connected = False

    # Driving the network loop on this thread, with a bound.
    def run_until(self, condition, timeout):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline or os.getppid() != self.parent:
                return False
            if self.connected is False:
                sys.exit(3)
            self.client.loop(timeout=0.05)
        return True

    def connect(self, port, timeout):
        self.client.connect(HOST, port, keepalive=30)
        if not self.run_until(lambda: self.connected is not None, timeout) or not self.connected:
            sys.exit(3)

    def disconnect(self, timeout=10):
        # Acknowledgements of received messages (PUBACK, PUBCOMP) were queued before the
        # DISCONNECT, and paho writes its packets in order.
        self.expect_disconnect = True
        self.client.disconnect()
        self.run_until(lambda: self.disconnected, timeout)
        say("disconnected")


def common(parser):
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--id", default=None)
    parser.add_argument("--clean", type=int, choices=[0, 1], default=1)
    parser.add_argument("--timeout", type=float, default=20)
    parser.add_argument("--cafile", default=None)
    parser.add_argument("--cert", default=None)
    parser.add_argument("--key", default=None)
    parser.add_argument("--username", default=None)
    parser.add_argument("--password", default=None)
    parser.add_argument("--websocket", default=None, metavar="PATH")
    parser.add_argument("--header", action="append", default=[])


def sub(args):
    peer = Peer(args)
    peer.connect(args.port, args.timeout)
    if not args.no_subscribe:
        peer.client.subscribe([(topic, args.qos) for topic in args.topic])
        if not peer.run_until(lambda: peer.suback is not None, args.timeout):
            sys.exit(2)
    if not peer.run_until(lambda: len(peer.received) >= args.count, args.timeout):
        sys.exit(2)
    peer.disconnect()


def pub(args):
    peer = Peer(args)
    peer.connect(args.port, args.timeout)
    qos_list = args.qos or [0]
    for index, message in enumerate(args.message):
        qos = qos_list[min(index, len(qos_list) - 1)]
        info = peer.client.publish(args.topic, message.encode(), qos=qos, retain=args.retain)
        if not peer.run_until(info.is_published, args.timeout):
            sys.exit(2)
    say("published")
    peer.disconnect()


def will(args):
    peer = Peer(args, will=(args.will_topic, args.will_message.encode(), args.will_qos, args.will_retain))
    peer.connect(args.port, args.timeout)
    if args.then == "disconnect":
        peer.disconnect()
        return
    # Stay connected (answering keep-alive) until killed or orphaned.
    peer.run_until(lambda: False, float("inf"))


def burst(args):
    # All CONNECTs go out before any CONNACK is awaited: the broker sees them as one burst.
    outcomes = {}
    clients = []
    for index in range(args.count):
        client = Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="burst-%d-%d" % (os.getpid(), index),
                        protocol=MQTTv311, reconnect_on_failure=False)
        if args.cafile:
            client.tls_set(ca_certs=args.cafile, certfile=args.cert, keyfile=args.key)
        client.username_pw_set(args.username, args.password)

        def on_connect(client, userdata, flags, reason_code, properties, index=index):
            outcomes.setdefault(index, "refused-%d" % reason_code.value if reason_code.is_failure else "accepted")

        def on_disconnect(client, userdata, flags, reason_code, properties, index=index):
            outcomes.setdefault(index, "dropped")

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.connect(HOST, args.port, keepalive=30)
        clients.append(client)
    parent = os.getppid()
    deadline = time.monotonic() + args.timeout
    while len(outcomes) < args.count:
        if time.monotonic() > deadline or os.getppid() != parent:
            sys.exit(2)
        for index, client in enumerate(clients):
            if index not in outcomes:
                client.loop(timeout=0.001)
    for client in clients:
        client.disconnect()
    kinds = sorted(set(outcomes.values()))
    say("burst " + " ".join("%s:%d" % (kind, list(outcomes.values()).count(kind)) for kind in kinds))


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)

    parser_sub = commands.add_parser("sub")
    common(parser_sub)
    parser_sub.add_argument("--topic", action="append", required=True)
    parser_sub.add_argument("--qos", type=int, choices=[0, 1, 2], default=0)
    parser_sub.add_argument("--count", type=int, required=True)
    parser_sub.add_argument("--no-subscribe", action="store_true")
    parser_sub.set_defaults(run=sub)

    parser_pub = commands.add_parser("pub")
    common(parser_pub)
    parser_pub.add_argument("--topic", required=True)
    parser_pub.add_argument("--qos", type=int, choices=[0, 1, 2], action="append")
    parser_pub.add_argument("--message", action="append", required=True)
    parser_pub.add_argument("--retain", action="store_true")
    parser_pub.set_defaults(run=pub)

    parser_will = commands.add_parser("will")
    common(parser_will)
    parser_will.add_argument("--will-topic", required=True)
    parser_will.add_argument("--will-message", required=True)
    parser_will.add_argument("--will-qos", type=int, choices=[0, 1, 2], default=0)
    parser_will.add_argument("--will-retain", action="store_true")
    parser_will.add_argument("--then", choices=["wait", "disconnect"], default="wait")
    parser_will.set_defaults(run=will)

    parser_burst = commands.add_parser("burst")
    common(parser_burst)
    parser_burst.add_argument("--count", type=int, required=True)
    parser_burst.set_defaults(run=burst)

    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
