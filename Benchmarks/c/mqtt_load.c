/*
 * mqtt_load: MQTT 3.1.1 load generator for the broker benchmark (scripts/broker-bench.sh,
 * `make bench-broker`). The same binary drives the modbridge broker and Mosquitto.
 *
 * One thread, one epoll set, non-blocking TCP sockets with TCP_NODELAY, and an input and an
 * output buffer for each connection. Writes that hit EAGAIN stay in the output buffer until
 * EPOLLOUT; input goes through a framer that accepts any chunking and remaining lengths of
 * 1 to 4 bytes. Only the packets the benchmark needs are encoded or decoded here: CONNECT,
 * CONNACK, SUBSCRIBE, SUBACK, PUBLISH (QoS 0 and 1), PUBACK, PINGRESP and DISCONNECT.
 *
 * Every message payload starts with 20 bytes: publisher number (u32), sequence number (u64)
 * and send time (u64, CLOCK_MONOTONIC ns), all little-endian, then filler up to the payload size.
 * Subscribers use them to count loss and duplicates and to compute latency.
 *
 * Each measuring command prints one line of key=value pairs on stdout. Diagnostics go to
 * stderr; the exit status is 0 on success, 1 on a failed run, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define HEADER_BYTES 20              /* publisher u32 + sequence u64 + send time u64 */
#define OUT_HIGH_WATER (64 * 1024)   /* a publisher stops adding messages above this */
#define READ_CHUNK (256 * 1024)      /* free space guaranteed before each recv */
#define IDLE_READ_CHUNK 64
#define MAX_UNACKED 60000            /* QoS 1 packet identifiers in use at most */
#define MAX_EVENTS 512

static const char usage_text[] =
    "usage: mqtt_load COMMAND [options]\n"
    "\n"
    "MQTT 3.1.1 load generator (one thread, epoll). Results: one key=value line on stdout.\n"
    "\n"
    "Commands:\n"
    "  freeport     print a TCP port that is free on --host now, and exit\n"
    "  probe        one client: CONNECT, wait for CONNACK, DISCONNECT; exit 0 if accepted\n"
    "  throughput   closed-loop publish/subscribe on one topic; messages/s delivered\n"
    "  latency      one publisher at a fixed rate, one subscriber; latency percentiles\n"
    "  idle         connect many clients and leave them idle; the broker's VmRSS\n"
    "  retained     publish many retained messages, then time wildcard SUBSCRIBEs over them\n"
    "\n"
    "Common options:\n"
    "  --host ADDR        broker address (default 127.0.0.1)\n"
    "  --port PORT        broker port (required, except for freeport)\n"
    "  --keepalive S      keep-alive sent in CONNECT, seconds (default 0: none)\n"
    "  --timeout S        limit for connecting (and subscribing) all clients\n"
    "                     (default 10; probe 1; idle 60)\n"
    "\n"
    "throughput options:\n"
    "  --publishers N     publishing clients (default 1)\n"
    "  --subscribers N    subscribing clients (default 1); each receives every message\n"
    "  --qos 0|1          QoS of PUBLISH and of SUBSCRIBE (default 0)\n"
    "  --payload BYTES    payload size, at least 20 (default 64)\n"
    "  --window N         at most N messages published but not yet received by every\n"
    "                     subscriber, in total, split evenly between publishers (default 1000)\n"
    "  --refill N         a publisher tops its share of the window up once N messages of it\n"
    "                     are free (default 1/8 of its share): fewer, larger writes\n"
    "  --warmup S         seconds of load before counting (default 0.5)\n"
    "  --seconds S        seconds counted (default 3)\n"
    "  output: mode=throughput ... msgs_per_s= (deliveries counted at all subscribers per\n"
    "  second) lost= dup= bad= (after a drain of up to 5 s) load_cpu= (this process's CPU\n"
    "  share while counting; near 1.00 means the generator was the bottleneck)\n"
    "\n"
    "latency options:\n"
    "  --qos 0|1, --payload BYTES (as above)\n"
    "  --rate N           messages per second, fixed schedule (default 1000)\n"
    "  --count N          messages measured (default 5000)\n"
    "  --warmup-count N   messages sent first and not measured (default 500)\n"
    "  --samples FILE     also write each measured latency to FILE, in ns, one per line\n"
    "  --port2 PORT       paired run: a second broker measured in the same run, its own\n"
    "                     publisher and subscriber, taking alternate ticks of a timer at twice\n"
    "                     --rate (each broker gets --rate, half a period apart), so both see\n"
    "                     the same moments of the machine's noise\n"
    "  --samples2 FILE    the second broker's latencies, as --samples\n"
    "  output: mode=latency ... received= p50_us= p99_us= max_us= mean_us= (and the same\n"
    "  keys with _2 for --port2) lost= dup= (both brokers together)\n"
    "\n"
    "idle options:\n"
    "  --clients N        clients to connect (default 10000), clean session, distinct ids\n"
    "  --pid PID          broker process whose VmRSS (/proc/PID/status) is read (required)\n"
    "  --settle S         seconds between the last CONNACK and the second reading (default 2)\n"
    "  --concurrency N    connections being set up at once (default 64)\n"
    "  output: mode=idle ... rss_before_kb= rss_after_kb= per_conn_bytes=\n"
    "\n"
    "retained options:\n"
    "  --retained N       retained messages published first, on plant/<i/100>/dev/<i%100>\n"
    "                     for i in 0..N-1 (default 50000); --payload BYTES each (as above)\n"
    "  --subscribes N     SUBSCRIBEs timed per filter, one at a time, each followed by\n"
    "                     UNSUBSCRIBE (default 100)\n"
    "  --filters LIST     comma-separated filters (default plant/17/#,plant/+/dev/42)\n"
    "  output: mode=retained ... and for each filter K (1, 2, ...): fK_filter= fK_matches=\n"
    "  fK_p50_us= fK_p99_us= (SUBSCRIBE sent to SUBACK and the last matching retained\n"
    "  message received) fK_suback_p50_us= fK_suback_p99_us= (SUBSCRIBE to SUBACK)\n"
    "\n"
    "Examples:\n"
    "  mqtt_load throughput --port 1883 --publishers 10 --subscribers 1 --qos 0 --payload 64\n"
    "  mqtt_load latency --port 1883 --qos 1 --rate 1000 --count 5000\n"
    "  mqtt_load latency --port 1883 --port2 1884 --rate 1000 --count 5000\n"
    "  mqtt_load idle --port 1883 --clients 10000 --pid 4242\n"
    "  mqtt_load retained --port 1883 --retained 50000 --subscribes 100\n";

static const char *prog_tag = "mqtt_load";
#include "load_common.h"

/* ---------- MQTT 3.1.1 encoding ---------- */

static void put_le32(uint8_t *w, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        w[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *w, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        w[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *r)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | r[i];
    return v;
}

static uint64_t get_le64(const uint8_t *r)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | r[i];
    return v;
}

/* CONNECT, protocol level 4, clean session, no will, no user name or password. */
static void mqtt_connect(buf_t *b, const char *client_id, unsigned keepalive)
{
    size_t id_len = strlen(client_id);
    uint8_t *w = put_header(b, 0x10, 10 + 2 + id_len);
    w = put_u16(w, 4);
    memcpy(w, "MQTT", 4);
    w += 4;
    *w++ = 4;    /* protocol level 3.1.1 */
    *w++ = 0x02; /* clean session */
    w = put_u16(w, keepalive);
    w = put_u16(w, (unsigned)id_len);
    memcpy(w, client_id, id_len);
}

static void mqtt_subscribe(buf_t *b, unsigned packet_id, const char *topic, size_t topic_len, int qos)
{
    uint8_t *w = put_header(b, 0x82, 2 + 2 + topic_len + 1);
    w = put_u16(w, packet_id);
    w = put_u16(w, (unsigned)topic_len);
    memcpy(w, topic, topic_len);
    w[topic_len] = (uint8_t)qos;
}

/* Returns where the payload goes; the caller fills payload_len bytes. */
static uint8_t *mqtt_publish(buf_t *b, const char *topic, size_t topic_len, int qos, unsigned packet_id,
                             size_t payload_len)
{
    size_t remaining = 2 + topic_len + (qos > 0 ? 2 : 0) + payload_len;
    uint8_t *w = put_header(b, (uint8_t)(0x30 | qos << 1), remaining);
    w = put_u16(w, (unsigned)topic_len);
    memcpy(w, topic, topic_len);
    w += topic_len;
    if (qos > 0)
        w = put_u16(w, packet_id);
    return w;
}

static void mqtt_puback(buf_t *b, unsigned packet_id)
{
    uint8_t *w = put_header(b, 0x40, 2);
    put_u16(w, packet_id);
}

static void mqtt_disconnect(buf_t *b)
{
    put_header(b, 0xE0, 0);
}

/* ---------- connections and the event loop ---------- */

enum { R_PUB, R_SUB, R_IDLE };
enum { ST_CONNECTING, ST_CONNACK, ST_SUBACK, ST_READY, ST_CLOSED };

typedef struct {
    int fd;
    int role;
    int idx;
    int target; /* which broker: 0 (--port) or 1 (--port2, paired latency) */
    int state;
    int want_out; /* EPOLLOUT registered: output blocked (or connect in progress) */
    buf_t in, out;
    uint64_t sent;      /* publisher: messages published */
    uint64_t acked;     /* publisher: PUBACKs received */
    uint64_t *next_seq; /* subscriber: next expected sequence number, per publisher */
} conn_t;

typedef struct {
    const char *host;
    const char *port;
    const char *port2;
    long keepalive;
    double timeout;
    long publishers, subscribers, qos, payload, window, refill;
    double warmup, seconds;
    double rate;
    long count, warmup_count;
    const char *samples, *samples2;
    long clients, pid, concurrency;
    double settle;
    long retained, subscribes;
    const char *filters;
} opts_t;

static struct {
    const opts_t *o;
    int ep;
    struct sockaddr_storage addr[2]; /* [1]: the second broker of a paired latency run */
    socklen_t addr_len[2];
    int targets;
    conn_t **pubs, **subs;
    char topic[64];
    size_t topic_len;
    size_t read_chunk;
    int idle_mode;    /* connection failures are counted, not fatal */
    int ready;        /* connections past CONNACK (and SUBACK for subscribers) */
    int pending;      /* idle: opened, neither connected nor failed yet */
    int failed;
    uint64_t rx_ns;   /* when the data being parsed was received */
    uint64_t delivered, dups, gaps, bad;
    uint64_t lat_from; /* latency recorded for sequence numbers >= this */
    int64_t *lat[2]; /* per target */
    size_t nlat[2], lat_cap;
} G;

static char timer_tag; /* epoll data.ptr of the latency timerfd */

static const char *role_name(int role)
{
    return role == R_PUB ? "publisher" : role == R_SUB ? "subscriber" : "client";
}

/* Closes the socket and frees what the connection holds; it is ST_CLOSED afterwards. */
static void conn_release(conn_t *c)
{
    if (close(c->fd) != 0)
        warnx("close: %s", strerror(errno));
    c->fd = -1;
    c->state = ST_CLOSED;
    buf_free(&c->in);
    buf_free(&c->out);
    free(c->next_seq);
    c->next_seq = NULL;
}

static void conn_fail(conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A connection broke or misbehaved: fatal, except in idle mode where it is counted. */
static void conn_fail(conn_t *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!G.idle_mode)
        die("%s %d: %s", role_name(c->role), c->idx, msg);
    if (G.failed < 5)
        warnx("%s %d: %s", role_name(c->role), c->idx, msg);
    else if (G.failed == 5)
        warnx("(further connection failures not shown)");
    if (c->state == ST_READY)
        G.ready--;
    else
        G.pending--;
    G.failed++;
    conn_release(c);
}

static void set_want_out(conn_t *c, int on)
{
    if (c->want_out == on)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };
    if (epoll_ctl(G.ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die_errno("epoll_ctl MOD");
    c->want_out = on;
}

static void conn_flush(conn_t *c)
{
    while (c->out.off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out.off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_want_out(c, 1);
            return;
        }
        conn_fail(c, "send: %s", n < 0 ? strerror(errno) : "wrote nothing");
        return;
    }
    c->out.off = c->out.len = 0;
    set_want_out(c, 0);
}

static void conn_open(conn_t *c, int role, int idx, int target, const char *client_id)
{
    memset(c, 0, sizeof *c);
    c->role = role;
    c->idx = idx;
    c->target = target;
    c->state = ST_CONNECTING;
    c->fd = socket(G.addr[target].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        if (errno == EMFILE || errno == ENFILE)
            die("socket: %s (raise the open-files limit: ulimit -n)", strerror(errno));
        die_errno("socket");
    }
    int one = 1;
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        die_errno("setsockopt TCP_NODELAY");
    mqtt_connect(&c->out, client_id, (unsigned)G.o->keepalive);
    if (connect(c->fd, (const struct sockaddr *)&G.addr[target], G.addr_len[target]) != 0 && errno != EINPROGRESS) {
        conn_fail(c, "connect: %s", strerror(errno));
        return;
    }
    /* Writable means the connection is set up (or failed: SO_ERROR tells). */
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
    if (epoll_ctl(G.ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die_errno("epoll_ctl ADD");
    c->want_out = 1;
}

static void conn_close(conn_t *c)
{
    if (c->state == ST_CLOSED)
        return;
    if ((c->state == ST_READY || c->state == ST_SUBACK) && c->out.off == c->out.len) {
        /* Polite DISCONNECT if it fits now; the broker sees EOF either way. */
        c->out.off = c->out.len = 0;
        mqtt_disconnect(&c->out);
        if (send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN
            && errno != EWOULDBLOCK && errno != EPIPE && errno != ECONNRESET)
            warnx("send DISCONNECT: %s", strerror(errno));
    }
    conn_release(c);
}

static void on_message(conn_t *c, const uint8_t *payload, size_t len)
{
    if (len != (size_t)G.o->payload || len < HEADER_BYTES) {
        G.bad++;
        return;
    }
    uint32_t pub = get_le32(payload);
    uint64_t seq = get_le64(payload + 4);
    uint64_t sent_ns = get_le64(payload + 12);
    if (pub >= (uint32_t)G.o->publishers || seq >= G.pubs[pub]->sent) {
        G.bad++;
        return;
    }
    uint64_t *next = &c->next_seq[pub];
    if (seq < *next) {
        G.dups++; /* also counts a message arriving after a later one (reordering) */
        return;
    }
    if (seq > *next)
        G.gaps += seq - *next;
    *next = seq + 1;
    G.delivered++;
    int t = c->target;
    if (G.lat[t] != NULL && seq >= G.lat_from && G.nlat[t] < G.lat_cap)
        G.lat[t][G.nlat[t]++] = (int64_t)(G.rx_ns - sent_ns);
}

static void on_packet(conn_t *c, uint8_t first, const uint8_t *body, size_t len)
{
    switch (first >> 4) {
    case 2: /* CONNACK */
        if (c->state != ST_CONNACK || len != 2) {
            conn_fail(c, "unexpected CONNACK");
            return;
        }
        if (body[1] != 0) {
            conn_fail(c, "CONNACK refused the connection, return code %u", body[1]);
            return;
        }
        if (c->role == R_SUB) {
            mqtt_subscribe(&c->out, 1, G.topic, G.topic_len, (int)G.o->qos);
            c->state = ST_SUBACK;
        } else {
            c->state = ST_READY;
            G.ready++;
            if (c->role == R_IDLE) {
                G.pending--;
                buf_free(&c->out);
            }
        }
        return;
    case 3: { /* PUBLISH */
        int qos = (first >> 1) & 3;
        if (c->role != R_SUB || c->state != ST_READY) {
            conn_fail(c, "PUBLISH received but not subscribed");
            return;
        }
        if (qos > 1 || len < 2) {
            conn_fail(c, "malformed PUBLISH (QoS %d, %zu bytes)", qos, len);
            return;
        }
        size_t topic_len = get_u16(body);
        size_t pos = 2 + topic_len + (qos > 0 ? 2 : 0);
        if (pos > len) {
            conn_fail(c, "malformed PUBLISH (topic length %zu, %zu bytes)", topic_len, len);
            return;
        }
        if (qos > 0)
            mqtt_puback(&c->out, get_u16(body + 2 + topic_len));
        if (topic_len != G.topic_len || memcmp(body + 2, G.topic, topic_len) != 0) {
            G.bad++;
            return;
        }
        on_message(c, body + pos, len - pos);
        return;
    }
    case 4: /* PUBACK */
        if (c->role != R_PUB || len != 2 || c->acked >= c->sent) {
            conn_fail(c, "unexpected PUBACK");
            return;
        }
        c->acked++;
        return;
    case 9: /* SUBACK */
        if (c->state != ST_SUBACK || len != 3 || get_u16(body) != 1) {
            conn_fail(c, "unexpected SUBACK");
            return;
        }
        if (body[2] != (uint8_t)G.o->qos) {
            conn_fail(c, "SUBACK granted 0x%02x, QoS %ld requested", body[2], G.o->qos);
            return;
        }
        c->state = ST_READY;
        G.ready++;
        return;
    case 13: /* PINGRESP */
        return;
    default:
        conn_fail(c, "unexpected packet type %u", first >> 4);
        return;
    }
}

/* Hand every complete packet in the input buffer to on_packet. */
static void conn_parse(conn_t *c)
{
    buf_t *b = &c->in;
    while (c->state != ST_CLOSED) {
        size_t avail = b->len - b->off;
        if (avail < 2)
            break;
        const uint8_t *p = b->p + b->off;
        size_t remaining = 0, mult = 1, i = 1;
        int complete = 0;
        while (i < avail) {
            uint8_t digit = p[i++];
            remaining += (size_t)(digit & 0x7f) * mult;
            if (!(digit & 0x80)) {
                complete = 1;
                break;
            }
            if (i == 5) {
                conn_fail(c, "malformed remaining length");
                return;
            }
            mult *= 128;
        }
        if (!complete)
            break;
        size_t total = i + remaining;
        if (avail < total) {
            buf_reserve(b, total - avail);
            break;
        }
        b->off += total;
        on_packet(c, p[0], p + i, remaining);
    }
    if (c->state != ST_CLOSED && b->off == b->len)
        b->off = b->len = 0;
}

static void conn_read(conn_t *c)
{
    buf_reserve(&c->in, G.read_chunk);
    ssize_t n;
    do
        n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            conn_fail(c, "recv: %s", strerror(errno));
        return;
    }
    if (n == 0) {
        conn_fail(c, "connection closed by the broker");
        return;
    }
    G.rx_ns = now_ns();
    c->in.len += (size_t)n;
    conn_parse(c);
    if (c->state != ST_CLOSED && c->out.len > c->out.off && !c->want_out)
        conn_flush(c);
}

static void on_event(conn_t *c, uint32_t events)
{
    if (c->state == ST_CLOSED)
        return;
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            die_errno("getsockopt SO_ERROR");
        if (err != 0) {
            conn_fail(c, "connect: %s", strerror(err));
            return;
        }
        c->state = ST_CONNACK;
        conn_flush(c); /* CONNECT */
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        conn_read(c);
        if (c->state == ST_CLOSED)
            return;
    }
    if ((events & EPOLLOUT) && c->want_out)
        conn_flush(c);
}

static void on_timer(int tfd);

static void loop_once(int timeout_ms, int tfd)
{
    struct epoll_event ev[MAX_EVENTS];
    int n = epoll_wait(G.ep, ev, MAX_EVENTS, timeout_ms);
    if (n < 0) {
        if (errno == EINTR)
            return;
        die_errno("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
        if (ev[i].data.ptr == &timer_tag)
            on_timer(tfd);
        else
            on_event(ev[i].data.ptr, ev[i].events);
    }
}

/* ---------- setup ---------- */

static void raise_nofile(rlim_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        die_errno("getrlimit RLIMIT_NOFILE");
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = { rl.rlim_max, rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
            rl = want;
        } else if (need > rl.rlim_cur) {
            want.rlim_cur = need; /* e.g. hard limit RLIM_INFINITY above fs.nr_open */
            if (setrlimit(RLIMIT_NOFILE, &want) != 0)
                die_errno("setrlimit RLIMIT_NOFILE");
            rl = want;
        }
    }
    if (need > rl.rlim_cur)
        die("%llu file descriptors needed, the limit is %llu (raise the hard limit: ulimit -Hn)",
            (unsigned long long)need, (unsigned long long)rl.rlim_cur);
}

static void resolve_one(const char *host, const char *port, int target)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        die("%s port %s: %s", host, port, gai_strerror(rc));
    memcpy(&G.addr[target], res->ai_addr, res->ai_addrlen);
    G.addr_len[target] = res->ai_addrlen;
    freeaddrinfo(res);
}

static void resolve(const opts_t *o)
{
    if (o->port == NULL)
        die("--port is required (see mqtt_load --help)");
    resolve_one(o->host, o->port, 0);
    G.targets = 1;
    if (o->port2 != NULL) {
        resolve_one(o->host, o->port2, 1);
        G.targets = 2;
    }
}

static void setup(const opts_t *o, rlim_t fds)
{
    G.o = o;
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal SIGPIPE");
    raise_nofile(fds);
    resolve(o);
    G.ep = epoll_create1(EPOLL_CLOEXEC);
    if (G.ep < 0)
        die_errno("epoll_create1");
    G.read_chunk = READ_CHUNK;
}

static void wait_ready(int want, double timeout_s)
{
    uint64_t deadline = now_ns() + (uint64_t)(timeout_s * 1e9);
    while (G.ready < want) {
        if (now_ns() >= deadline)
            die("timed out after %.1f s: %d of %d clients connected%s", timeout_s, G.ready, want,
                G.o->subscribers > 0 ? " and subscribed" : "");
        loop_once(20, -1);
    }
}

/* Publishers and subscribers on one fresh topic; returns when all are ready. */
static conn_t *open_pubsub(const opts_t *o)
{
    int n = (int)(o->publishers + o->subscribers);
    conn_t *conns = calloc((size_t)n, sizeof *conns);
    G.pubs = calloc((size_t)o->publishers, sizeof *G.pubs);
    G.subs = calloc((size_t)o->subscribers, sizeof *G.subs);
    if (conns == NULL || G.pubs == NULL || G.subs == NULL)
        die("out of memory");
    pid_t self = getpid();
    G.topic_len = (size_t)snprintf(G.topic, sizeof G.topic, "bench/%d/load", (int)self);
    char id[32];
    for (int s = 0; s < o->subscribers; s++) {
        conn_t *c = &conns[s];
        snprintf(id, sizeof id, "mls%d-%d", (int)self, s);
        conn_open(c, R_SUB, s, s % G.targets, id);
        c->next_seq = calloc((size_t)o->publishers, sizeof *c->next_seq);
        if (c->next_seq == NULL)
            die("out of memory");
        G.subs[s] = c;
    }
    for (int p = 0; p < o->publishers; p++) {
        conn_t *c = &conns[o->subscribers + p];
        snprintf(id, sizeof id, "mlp%d-%d", (int)self, p);
        conn_open(c, R_PUB, p, p % G.targets, id);
        G.pubs[p] = c;
    }
    wait_ready(n, o->timeout);
    return conns;
}

static void publish_one(conn_t *p, uint64_t stamp_ns)
{
    unsigned packet_id = G.o->qos > 0 ? (unsigned)(p->sent % 65535) + 1 : 0;
    uint8_t *w = mqtt_publish(&p->out, G.topic, G.topic_len, (int)G.o->qos, packet_id, (size_t)G.o->payload);
    put_le32(w, (uint32_t)p->idx);
    put_le64(w + 4, p->sent);
    put_le64(w + 12, stamp_ns);
    memset(w + HEADER_BYTES, 'x', (size_t)G.o->payload - HEADER_BYTES);
    p->sent++;
}

static uint64_t min_received(int pub)
{
    uint64_t m = UINT64_MAX;
    for (int s = 0; s < G.o->subscribers; s++)
        if (G.subs[s]->target == G.pubs[pub]->target && G.subs[s]->next_seq[pub] < m)
            m = G.subs[s]->next_seq[pub];
    return m;
}

/* Everything published has reached every subscriber (or was skipped) and was acknowledged. */
static int all_done(void)
{
    for (int p = 0; p < G.o->publishers; p++) {
        if (min_received(p) < G.pubs[p]->sent)
            return 0;
        if (G.o->qos > 0 && G.pubs[p]->acked < G.pubs[p]->sent)
            return 0;
    }
    return 1;
}

static uint64_t count_lost(void)
{
    uint64_t lost = G.gaps;
    for (int s = 0; s < G.o->subscribers; s++)
        for (int p = 0; p < G.o->publishers; p++)
            if (G.subs[s]->target == G.pubs[p]->target)
                lost += G.pubs[p]->sent - G.subs[s]->next_seq[p];
    return lost;
}

static uint64_t count_sent(void)
{
    uint64_t sent = 0;
    for (int p = 0; p < G.o->publishers; p++)
        sent += G.pubs[p]->sent;
    return sent;
}

static uint64_t count_unacked(void)
{
    uint64_t n = 0;
    if (G.o->qos > 0)
        for (int p = 0; p < G.o->publishers; p++)
            n += G.pubs[p]->sent - G.pubs[p]->acked;
    return n;
}

/* Run the loop until everything is delivered and acknowledged, or for drain_s at most. */
static void drain(double drain_s, int tfd)
{
    uint64_t deadline = now_ns() + (uint64_t)(drain_s * 1e9);
    while (!all_done() && now_ns() < deadline)
        loop_once(10, tfd);
}

/* ---------- commands ---------- */

static int cmd_freeport(const opts_t *o)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
    struct addrinfo *res;
    int rc = getaddrinfo(o->host, "0", &hints, &res);
    if (rc != 0)
        die("%s: %s", o->host, gai_strerror(rc));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die_errno("socket");
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0)
        die_errno("bind");
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        die_errno("getsockname");
    unsigned port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (close(fd) != 0)
        die_errno("close");
    printf("%u\n", port);
    return 0;
}

static int cmd_probe(const opts_t *o)
{
    setup(o, 64);
    conn_t c;
    conn_open(&c, R_IDLE, 0, 0, "mlprobe");
    G.pending = 1;
    wait_ready(1, o->timeout);
    conn_close(&c);
    return 0;
}

static int cmd_throughput(const opts_t *o)
{
    setup(o, (rlim_t)(o->publishers + o->subscribers + 64));
    uint64_t window = (uint64_t)o->window / (uint64_t)o->publishers;
    if (window < 1)
        window = 1;
    uint64_t refill = o->refill > 0 ? (uint64_t)o->refill : window / 8;
    if (refill < 1)
        refill = 1;
    if (refill > window)
        refill = window;
    conn_t *conns = open_pubsub(o);

    uint64_t start = now_ns();
    uint64_t t_count = start + (uint64_t)(o->warmup * 1e9);
    uint64_t t_end = t_count + (uint64_t)(o->seconds * 1e9);
    uint64_t t0 = 0, t1 = 0, d0 = 0, d1 = 0, c0 = 0, c1 = 0;
    for (int phase = 0; phase < 2;) {
        uint64_t now = now_ns();
        if (phase == 0 && now >= t_count) {
            phase = 1;
            t0 = now;
            d0 = G.delivered;
            c0 = cpu_ns();
        }
        if (phase == 1 && now >= t_end) {
            t1 = now;
            d1 = G.delivered;
            c1 = cpu_ns();
            break;
        }
        for (int p = 0; p < o->publishers; p++) {
            conn_t *c = G.pubs[p];
            if (c->want_out)
                continue; /* blocked: EPOLLOUT resumes it */
            uint64_t received = min_received(p);
            if (c->sent - received > window - refill)
                continue; /* top up in batches: fewer, larger writes */
            int added = 0;
            uint64_t stamp = now_ns();
            while (c->sent - received < window && c->out.len - c->out.off < OUT_HIGH_WATER
                   && (o->qos == 0 || c->sent - c->acked < MAX_UNACKED)) {
                publish_one(c, stamp);
                added = 1;
            }
            if (added)
                conn_flush(c);
        }
        uint64_t next = phase == 0 ? t_count : t_end;
        uint64_t wait_ms = next > now ? (next - now + 999999) / 1000000 : 0;
        loop_once(wait_ms > 10 ? 10 : (int)wait_ms, -1);
    }
    drain(5.0, -1);

    double secs = (double)(t1 - t0) / 1e9;
    uint64_t lost = count_lost();
    printf("mode=throughput publishers=%ld subscribers=%ld qos=%ld payload=%ld window=%ld refill=%" PRIu64
           " seconds=%.3f sent=%" PRIu64 " delivered=%" PRIu64 " counted=%" PRIu64 " msgs_per_s=%.0f lost=%" PRIu64
           " dup=%" PRIu64 " bad=%" PRIu64 " unacked=%" PRIu64 " load_cpu=%.2f\n",
           o->publishers, o->subscribers, o->qos, o->payload, o->window, refill, secs, count_sent(), G.delivered,
           d1 - d0, (double)(d1 - d0) / secs, lost, G.dups, G.bad, count_unacked(),
           (double)(c1 - c0) / (double)(t1 - t0));
    if (fflush(stdout) != 0)
        die_errno("stdout");
    for (int i = 0; i < o->publishers + o->subscribers; i++)
        conn_close(&conns[i]);
    free(conns);
    free(G.pubs);
    free(G.subs);
    if (G.delivered == 0) {
        warnx("no message was delivered");
        return 1;
    }
    return 0;
}

static uint64_t lat_total; /* messages each latency publisher sends */
static uint64_t lat_ticks; /* timer ticks so far: paired runs alternate publishers tick by tick */

static void on_timer(int tfd)
{
    uint64_t expirations;
    ssize_t n = read(tfd, &expirations, sizeof expirations);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n != (ssize_t)sizeof expirations)
        die("read timerfd: %s", n < 0 ? strerror(errno) : "short read");
    /* Late ticks are sent at once, each stamped with the time it is written. */
    for (uint64_t i = 0; i < expirations; i++) {
        conn_t *p = G.pubs[lat_ticks++ % (uint64_t)G.targets];
        if (p->sent < lat_total)
            publish_one(p, now_ns());
    }
    for (int t = 0; t < G.targets; t++)
        if (!G.pubs[t]->want_out)
            conn_flush(G.pubs[t]);
}

/* Nearest-rank percentile of a sorted array, in µs. */
static double pct_us(const int64_t *v, size_t n, double pct)
{
    size_t rank = (size_t)(pct / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1000.0;
}

/* Writes one target's latencies, in ns, one per line. */
static void write_samples(const char *path, const int64_t *v, size_t n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        die("%s: %s", path, strerror(errno));
    for (size_t i = 0; i < n; i++)
        if (fprintf(f, "%" PRId64 "\n", v[i]) < 0)
            die("%s: %s", path, strerror(errno));
    if (fclose(f) != 0)
        die("%s: %s", path, strerror(errno));
}

/* Prints p50/p99/max/mean of one target's sorted latencies, with the given key suffix. */
static void print_percentiles(const int64_t *v, size_t n, const char *suffix)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    int have = n > 0;
    printf(" received%s=%zu p50_us%s=%.1f p99_us%s=%.1f max_us%s=%.1f mean_us%s=%.1f", suffix, n,
           suffix, have ? pct_us(v, n, 50) : 0.0, suffix, have ? pct_us(v, n, 99) : 0.0,
           suffix, have ? (double)v[n - 1] / 1000.0 : 0.0, suffix, have ? sum / (double)n / 1000.0 : 0.0);
}

static int cmd_latency(const opts_t *o)
{
    opts_t pair = *o;
    pair.publishers = o->port2 != NULL ? 2 : 1;
    pair.subscribers = pair.publishers;
    setup(&pair, 64);
    conn_t *conns = open_pubsub(&pair);
    lat_total = (uint64_t)o->warmup_count + (uint64_t)o->count;
    G.lat_from = (uint64_t)o->warmup_count;
    G.lat_cap = (size_t)o->count;
    for (int t = 0; t < G.targets; t++) {
        G.lat[t] = calloc(G.lat_cap, sizeof *G.lat[t]);
        if (G.lat[t] == NULL)
            die("out of memory");
    }

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0)
        die_errno("timerfd_create");
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &timer_tag };
    if (epoll_ctl(G.ep, EPOLL_CTL_ADD, tfd, &ev) != 0)
        die_errno("epoll_ctl ADD timerfd");
    /* Paired: the timer runs at twice the rate and the two brokers take alternate ticks, so each
       gets --rate messages per second, half a period apart from the other's. */
    uint64_t period = (uint64_t)(1e9 / (o->rate * G.targets));
    struct itimerspec its = {
        .it_interval = { (time_t)(period / 1000000000u), (long)(period % 1000000000u) },
        .it_value = { (time_t)(period / 1000000000u), (long)(period % 1000000000u) },
    };
    if (timerfd_settime(tfd, 0, &its, NULL) != 0)
        die_errno("timerfd_settime");
    uint64_t start = now_ns();
    while (G.pubs[G.targets - 1]->sent < lat_total)
        loop_once(100, tfd);
    uint64_t send_s_ns = now_ns() - start;
    struct itimerspec off = { { 0, 0 }, { 0, 0 } };
    if (timerfd_settime(tfd, 0, &off, NULL) != 0)
        die_errno("timerfd_settime");
    drain(5.0, tfd);

    printf("mode=latency qos=%ld payload=%ld rate=%.0f count=%ld warmup_count=%ld achieved_rate=%.0f "
           "lost=%" PRIu64 " dup=%" PRIu64 " bad=%" PRIu64 " unacked=%" PRIu64,
           o->qos, o->payload, o->rate, o->count, o->warmup_count,
           (double)lat_total / ((double)send_s_ns / 1e9), count_lost(), G.dups, G.bad, count_unacked());
    const char *suffixes[2] = { "", "_2" };
    const char *sample_paths[2] = { o->samples, o->samples2 };
    for (int t = 0; t < G.targets; t++) {
        qsort(G.lat[t], G.nlat[t], sizeof *G.lat[t], cmp_i64);
        print_percentiles(G.lat[t], G.nlat[t], suffixes[t]);
    }
    printf("\n");
    if (fflush(stdout) != 0)
        die_errno("stdout");
    for (int t = 0; t < G.targets; t++)
        if (sample_paths[t] != NULL)
            write_samples(sample_paths[t], G.lat[t], G.nlat[t]);
    for (int i = 0; i < pair.publishers + pair.subscribers; i++)
        conn_close(&conns[i]);
    free(conns);
    free(G.pubs);
    free(G.subs);
    for (int t = 0; t < G.targets; t++)
        free(G.lat[t]);
    if (close(tfd) != 0)
        die_errno("close timerfd");
    int failed = 0;
    for (int t = 0; t < G.targets; t++)
        if (G.nlat[t] == 0)
            failed = 1;
    if (failed)
        warnx("no message was delivered%s", G.targets > 1 ? " by one of the brokers" : "");
    return failed;
}

static long read_rss_kb(long pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        die("%s: %s", path, strerror(errno));
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (ferror(f))
        die("%s: read error", path);
    if (fclose(f) != 0)
        die_errno("fclose");
    if (kb < 0)
        die("%s: no VmRSS line (has the process exited?)", path);
    return kb;
}

static int cmd_idle(const opts_t *o)
{
    if (o->pid <= 0)
        die("idle: --pid PID of the broker is required");
    int n = (int)o->clients;
    setup(o, (rlim_t)n + 64);
    G.idle_mode = 1;
    G.read_chunk = IDLE_READ_CHUNK;
    conn_t *conns = calloc((size_t)n, sizeof *conns);
    if (conns == NULL)
        die("out of memory");
    long rss_before = read_rss_kb(o->pid);

    pid_t self = getpid();
    char id[32];
    uint64_t start = now_ns();
    uint64_t deadline = start + (uint64_t)(o->timeout * 1e9);
    int opened = 0;
    while (G.ready + G.failed < n) {
        while (opened < n && G.pending < o->concurrency) {
            snprintf(id, sizeof id, "mli%d-%d", (int)self, opened);
            G.pending++;
            conn_open(&conns[opened], R_IDLE, opened, 0, id);
            opened++;
        }
        if (now_ns() >= deadline) {
            warnx("timed out after %.1f s: %d of %d clients connected", o->timeout, G.ready, n);
            break;
        }
        loop_once(20, -1);
    }
    double connect_s = (double)(now_ns() - start) / 1e9;
    uint64_t settle_end = now_ns() + (uint64_t)(o->settle * 1e9);
    for (uint64_t now = now_ns(); now < settle_end; now = now_ns()) {
        uint64_t ms = (settle_end - now + 999999) / 1000000;
        loop_once(ms > 100 ? 100 : (int)ms, -1);
    }
    long rss_after = read_rss_kb(o->pid);
    int connected = G.ready; /* still connected after settling */
    double per_conn = connected > 0 ? (double)(rss_after - rss_before) * 1024.0 / connected : 0.0;
    printf("mode=idle clients=%d connected=%d failed=%d connect_s=%.2f settle_s=%.1f rss_before_kb=%ld "
           "rss_after_kb=%ld per_conn_bytes=%.0f\n",
           n, connected, G.failed, connect_s, o->settle, rss_before, rss_after, per_conn);
    if (fflush(stdout) != 0)
        die_errno("stdout");
    for (int i = 0; i < opened; i++)
        conn_close(&conns[i]);
    free(conns);
    if (connected != n) {
        warnx("only %d of %d clients stayed connected", connected, n);
        return 1;
    }
    return 0;
}

/* ---------- retained: wildcard SUBSCRIBE time over many retained messages ---------- */

/* MQTT 3.1.1 §4.7: `+` one level, `#` the level it follows and everything below (§4.7.1.2); a
   filter starting with a wildcard does not match topics starting with `$` (§4.7.2). */
static int topic_matches(const char *filter, const char *topic)
{
    if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
        return 0;
    const char *f = filter, *t = topic;
    for (;;) {
        const char *fe = strchr(f, '/');
        size_t fl = fe != NULL ? (size_t)(fe - f) : strlen(f);
        if (fl == 1 && f[0] == '#')
            return 1;
        if (t == NULL)
            return 0;
        const char *te = strchr(t, '/');
        size_t tl = te != NULL ? (size_t)(te - t) : strlen(t);
        if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl) != 0))
            return 0;
        t = te != NULL ? te + 1 : NULL;
        if (fe == NULL)
            return t == NULL;
        f = fe + 1;
    }
}

static void retained_topic(char *out, size_t size, long i)
{
    snprintf(out, size, "plant/%ld/dev/%ld", i / 100, i % 100);
}

static void write_all(int fd, buf_t *b)
{
    while (b->off < b->len) {
        ssize_t n = send(fd, b->p + b->off, b->len - b->off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("send: %s", n < 0 ? strerror(errno) : "wrote nothing");
        b->off += (size_t)n;
    }
    b->off = b->len = 0;
}

/* The next whole packet from a blocking socket (SO_RCVTIMEO set); body valid until the next call. */
static uint8_t next_packet(int fd, buf_t *in, const uint8_t **body, size_t *len)
{
    for (;;) {
        size_t avail = in->len - in->off;
        const uint8_t *p = in->p + in->off;
        size_t remaining = 0, mult = 1, i = 1;
        int complete = 0;
        while (i < avail && i < 5) {
            uint8_t digit = p[i++];
            remaining += (size_t)(digit & 0x7f) * mult;
            mult *= 128;
            if (!(digit & 0x80)) {
                complete = 1;
                break;
            }
        }
        if (complete && avail >= i + remaining) {
            in->off += i + remaining;
            *body = p + i;
            *len = remaining;
            return p[0];
        }
        if (in->off == in->len)
            in->off = in->len = 0;
        buf_reserve(in, READ_CHUNK);
        ssize_t n = recv(fd, in->p + in->len, in->cap - in->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            die("timed out after %.0f s waiting for the broker", G.o->timeout);
        if (n <= 0)
            die("recv: %s", n < 0 ? strerror(errno) : "connection closed by the broker");
        in->len += (size_t)n;
    }
}

/* A blocking connection that has had its CONNACK. */
static int retained_client(const char *client_id, buf_t *out, buf_t *in)
{
    int fd = socket(G.addr[0].ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die_errno("socket");
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        die_errno("setsockopt TCP_NODELAY");
    struct timeval tv = { (time_t)G.o->timeout, (suseconds_t)((G.o->timeout - (double)(time_t)G.o->timeout) * 1e6) };
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        die_errno("setsockopt SO_RCVTIMEO");
    if (connect(fd, (struct sockaddr *)&G.addr[0], G.addr_len[0]) != 0)
        die_errno("connect");
    mqtt_connect(out, client_id, (unsigned)G.o->keepalive);
    write_all(fd, out);
    const uint8_t *body;
    size_t len;
    if (next_packet(fd, in, &body, &len) != 0x20 || len != 2 || body[1] != 0)
        die("%s: CONNECT not accepted", client_id);
    return fd;
}

/* SUBSCRIBE `filter`; returns once the SUBACK and `expected` retained messages (RETAIN set, topic
   matching) are in, with the SUBACK's arrival time in *suback_ns. */
static void retained_subscribe(int fd, buf_t *out, buf_t *in, unsigned id, const char *filter, long expected,
                               uint64_t *suback_ns)
{
    mqtt_subscribe(out, id, filter, strlen(filter), 0);
    write_all(fd, out);
    int acknowledged = 0;
    long received = 0;
    char topic[256];
    while (!acknowledged || received < expected) {
        const uint8_t *body;
        size_t len;
        uint8_t first = next_packet(fd, in, &body, &len);
        if (first == 0x90 && len == 3 && get_u16(body) == id && body[2] == 0 && !acknowledged) {
            *suback_ns = now_ns();
            acknowledged = 1;
        } else if ((first & 0xF1) == 0x31 && len >= 2 && 2 + get_u16(body) <= len && get_u16(body) < sizeof topic) {
            size_t topic_len = get_u16(body);
            memcpy(topic, body + 2, topic_len);
            topic[topic_len] = '\0';
            if (!topic_matches(filter, topic))
                die("'%s' received for a SUBSCRIBE to '%s'", topic, filter);
            received++;
        } else {
            die("unexpected packet 0x%02x (%zu bytes) after SUBSCRIBE to '%s'", first, len, filter);
        }
    }
}

/* UNSUBSCRIBE `filter` and wait for UNSUBACK; a PUBLISH before it means more retained messages
   matched than expected. */
static void retained_unsubscribe(int fd, buf_t *out, buf_t *in, unsigned id, const char *filter)
{
    size_t fl = strlen(filter);
    uint8_t *w = put_header(out, 0xA2, 2 + 2 + fl);
    w = put_u16(w, id);
    w = put_u16(w, (unsigned)fl);
    memcpy(w, filter, fl);
    write_all(fd, out);
    const uint8_t *body;
    size_t len;
    uint8_t first = next_packet(fd, in, &body, &len);
    if (first != 0xB0 || len != 2 || get_u16(body) != id)
        die("expected UNSUBACK %u for '%s', got packet 0x%02x (more retained messages than expected?)", id, filter, first);
}

static int cmd_retained(const opts_t *o)
{
    setup(o, 64);
    pid_t self = getpid();
    char id[32], topic[64];
    buf_t out = { 0 }, in = { 0 };

    /* Publish them all in large writes; PINGRESP comes after the broker handled every PUBLISH. */
    snprintf(id, sizeof id, "mlr%d-pub", (int)self);
    int pub = retained_client(id, &out, &in);
    uint64_t start = now_ns();
    for (long i = 0; i < o->retained; i++) {
        retained_topic(topic, sizeof topic, i);
        size_t at = out.len;
        uint8_t *w = mqtt_publish(&out, topic, strlen(topic), 0, 0, (size_t)o->payload);
        memset(w, 'r', (size_t)o->payload);
        out.p[at] |= 0x01; /* RETAIN */
        put_le64(w, (uint64_t)i);
        if (out.len >= 256 * 1024)
            write_all(pub, &out);
    }
    put_header(&out, 0xC0, 0); /* PINGREQ */
    write_all(pub, &out);
    const uint8_t *body;
    size_t len;
    if (next_packet(pub, &in, &body, &len) != 0xD0)
        die("the publisher's PINGREQ was not answered with PINGRESP");
    double load_s = (double)(now_ns() - start) / 1e9;

    /* The broker holds them: the last topic's retained message comes back. */
    snprintf(id, sizeof id, "mlr%d-sub", (int)self);
    int sub = retained_client(id, &out, &in);
    uint64_t ignored;
    retained_topic(topic, sizeof topic, o->retained - 1);
    retained_subscribe(sub, &out, &in, 1, topic, 1, &ignored);
    retained_unsubscribe(sub, &out, &in, 2, topic);

    /* The filters, their expected matches, and samples taken in rounds (filter 1, 2, ..., 1, 2, ...). */
    char *list = strdup(o->filters);
    if (list == NULL)
        die("out of memory");
    const char *filters[16];
    long matches[16];
    int nf = 0;
    for (char *save = NULL, *f = strtok_r(list, ",", &save); f != NULL; f = strtok_r(NULL, ",", &save)) {
        if (nf == 16)
            die("--filters: at most 16");
        filters[nf] = f;
        matches[nf] = 0;
        for (long i = 0; i < o->retained; i++) {
            retained_topic(topic, sizeof topic, i);
            matches[nf] += topic_matches(f, topic);
        }
        nf++;
    }
    if (nf == 0)
        die("--filters: none given");
    int64_t *done = calloc((size_t)(nf * o->subscribes), sizeof *done);
    int64_t *acked = calloc((size_t)(nf * o->subscribes), sizeof *acked);
    if (done == NULL || acked == NULL)
        die("out of memory");
    unsigned packet_id = 3;
    for (long rep = 0; rep < o->subscribes; rep++) {
        for (int f = 0; f < nf; f++) {
            uint64_t suback_ns = 0, t0 = now_ns();
            retained_subscribe(sub, &out, &in, packet_id, filters[f], matches[f], &suback_ns);
            uint64_t t1 = now_ns();
            done[f * o->subscribes + rep] = (int64_t)(t1 - t0);
            acked[f * o->subscribes + rep] = (int64_t)(suback_ns - t0);
            retained_unsubscribe(sub, &out, &in, packet_id + 1, filters[f]);
            packet_id = packet_id >= 65000 ? 3 : packet_id + 2;
        }
    }
    printf("mode=retained retained=%ld payload=%ld subscribes=%ld load_s=%.2f", o->retained, o->payload,
           o->subscribes, load_s);
    for (int f = 0; f < nf; f++) {
        int64_t *d = done + f * o->subscribes, *a = acked + f * o->subscribes;
        size_t n = (size_t)o->subscribes;
        qsort(d, n, sizeof *d, cmp_i64);
        qsort(a, n, sizeof *a, cmp_i64);
        printf(" f%d_filter=%s f%d_matches=%ld f%d_p50_us=%.1f f%d_p99_us=%.1f f%d_suback_p50_us=%.1f f%d_suback_p99_us=%.1f",
               f + 1, filters[f], f + 1, matches[f], f + 1, pct_us(d, n, 50), f + 1, pct_us(d, n, 99),
               f + 1, pct_us(a, n, 50), f + 1, pct_us(a, n, 99));
    }
    printf("\n");
    if (fflush(stdout) != 0)
        die_errno("stdout");
    mqtt_disconnect(&out);
    write_all(sub, &out);
    mqtt_disconnect(&out);
    write_all(pub, &out);
    close(sub);
    close(pub);
    free(done);
    free(acked);
    free(list);
    buf_free(&out);
    buf_free(&in);
    return 0;
}

/* ---------- options ---------- */


enum {
    O_HOST = 256, O_PORT, O_KEEPALIVE, O_TIMEOUT, O_PUBLISHERS, O_SUBSCRIBERS, O_QOS, O_PAYLOAD, O_WINDOW, O_REFILL,
    O_WARMUP, O_SECONDS, O_RATE, O_COUNT, O_WARMUP_COUNT, O_SAMPLES, O_PORT2, O_SAMPLES2, O_CLIENTS, O_PID, O_SETTLE, O_CONCURRENCY,
    O_RETAINED, O_SUBSCRIBES, O_FILTERS, O_HELP
};

static const struct option long_opts[] = {
    { "host", required_argument, NULL, O_HOST },
    { "port", required_argument, NULL, O_PORT },
    { "keepalive", required_argument, NULL, O_KEEPALIVE },
    { "timeout", required_argument, NULL, O_TIMEOUT },
    { "publishers", required_argument, NULL, O_PUBLISHERS },
    { "subscribers", required_argument, NULL, O_SUBSCRIBERS },
    { "qos", required_argument, NULL, O_QOS },
    { "payload", required_argument, NULL, O_PAYLOAD },
    { "window", required_argument, NULL, O_WINDOW },
    { "refill", required_argument, NULL, O_REFILL },
    { "warmup", required_argument, NULL, O_WARMUP },
    { "seconds", required_argument, NULL, O_SECONDS },
    { "rate", required_argument, NULL, O_RATE },
    { "count", required_argument, NULL, O_COUNT },
    { "warmup-count", required_argument, NULL, O_WARMUP_COUNT },
    { "samples", required_argument, NULL, O_SAMPLES },
    { "port2", required_argument, NULL, O_PORT2 },
    { "samples2", required_argument, NULL, O_SAMPLES2 },
    { "clients", required_argument, NULL, O_CLIENTS },
    { "pid", required_argument, NULL, O_PID },
    { "settle", required_argument, NULL, O_SETTLE },
    { "concurrency", required_argument, NULL, O_CONCURRENCY },
    { "retained", required_argument, NULL, O_RETAINED },
    { "subscribes", required_argument, NULL, O_SUBSCRIBES },
    { "filters", required_argument, NULL, O_FILTERS },
    { "help", no_argument, NULL, O_HELP },
    { NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
    if (argc < 2)
        usage_error("a command is required");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    opts_t o = {
        .host = "127.0.0.1", .port = NULL, .keepalive = 0, .timeout = -1,
        .publishers = 1, .subscribers = 1, .qos = 0, .payload = 64, .window = 1000,
        .warmup = 0.5, .seconds = 3, .rate = 1000, .count = 5000, .warmup_count = 500,
        .clients = 10000, .pid = 0, .settle = 2, .concurrency = 64,
        .retained = 50000, .subscribes = 100, .filters = "plant/17/#,plant/+/dev/42",
    };
    /* Options follow the command: parse argv[1..] with the command in the program-name slot. */
    char **av = argv + 1;
    int ac = argc - 1;
    int c;
    opterr = 0;
    while ((c = getopt_long(ac, av, ":", long_opts, NULL)) != -1) {
        switch (c) {
        case O_HOST: o.host = optarg; break;
        case O_PORT: parse_long("port", optarg, 1, 65535); o.port = optarg; break;
        case O_KEEPALIVE: o.keepalive = parse_long("keepalive", optarg, 0, 65535); break;
        case O_TIMEOUT: o.timeout = parse_double("timeout", optarg, 0.01, 3600); break;
        case O_PUBLISHERS: o.publishers = parse_long("publishers", optarg, 1, 1000); break;
        case O_SUBSCRIBERS: o.subscribers = parse_long("subscribers", optarg, 1, 1000); break;
        case O_QOS: o.qos = parse_long("qos", optarg, 0, 1); break;
        case O_PAYLOAD: o.payload = parse_long("payload", optarg, HEADER_BYTES, 1 << 20); break;
        case O_WINDOW: o.window = parse_long("window", optarg, 1, 1000000); break;
        case O_REFILL: o.refill = parse_long("refill", optarg, 1, 1000000); break;
        case O_WARMUP: o.warmup = parse_double("warmup", optarg, 0, 600); break;
        case O_SECONDS: o.seconds = parse_double("seconds", optarg, 0.1, 600); break;
        case O_RATE: o.rate = parse_double("rate", optarg, 1, 1e6); break;
        case O_COUNT: o.count = parse_long("count", optarg, 1, 100000000); break;
        case O_WARMUP_COUNT: o.warmup_count = parse_long("warmup-count", optarg, 0, 100000000); break;
        case O_SAMPLES: o.samples = optarg; break;
        case O_PORT2: parse_long("port2", optarg, 1, 65535); o.port2 = optarg; break;
        case O_SAMPLES2: o.samples2 = optarg; break;
        case O_CLIENTS: o.clients = parse_long("clients", optarg, 1, 1000000); break;
        case O_PID: o.pid = parse_long("pid", optarg, 1, 1L << 30); break;
        case O_SETTLE: o.settle = parse_double("settle", optarg, 0, 600); break;
        case O_CONCURRENCY: o.concurrency = parse_long("concurrency", optarg, 1, 100000); break;
        case O_RETAINED: o.retained = parse_long("retained", optarg, 1, 10000000); break;
        case O_SUBSCRIBES: o.subscribes = parse_long("subscribes", optarg, 1, 1000000); break;
        case O_FILTERS: o.filters = optarg; break;
        case O_HELP: fputs(usage_text, stdout); return 0;
        case ':': usage_error("option %s needs a value", av[optind - 1]);
        default: usage_error("unknown option %s", av[optind - 1]);
        }
    }
    if (optind < ac)
        usage_error("unexpected argument '%s'", av[optind]);
    if ((o.port2 != NULL || o.samples2 != NULL) && strcmp(cmd, "latency") != 0)
        usage_error("--port2 and --samples2 are latency options");
    if (o.samples2 != NULL && o.port2 == NULL)
        usage_error("--samples2 needs --port2");

    if (strcmp(cmd, "freeport") == 0)
        return cmd_freeport(&o);
    if (strcmp(cmd, "probe") == 0) {
        if (o.timeout < 0)
            o.timeout = 1;
        o.subscribers = 0;
        return cmd_probe(&o);
    }
    if (strcmp(cmd, "throughput") == 0) {
        if (o.timeout < 0)
            o.timeout = 10;
        return cmd_throughput(&o);
    }
    if (strcmp(cmd, "latency") == 0) {
        if (o.timeout < 0)
            o.timeout = 10;
        return cmd_latency(&o);
    }
    if (strcmp(cmd, "idle") == 0) {
        if (o.timeout < 0)
            o.timeout = 60;
        o.subscribers = 0;
        return cmd_idle(&o);
    }
    if (strcmp(cmd, "retained") == 0) {
        if (o.timeout < 0)
            o.timeout = 60;
        o.subscribers = 0;
        return cmd_retained(&o);
    }
    usage_error("unknown command '%s'", cmd);
}
