/*
 * mqtt_tls_load: MQTT 3.1.1 over TLS load generator for the registry benchmark
 * (scripts/registry-bench.sh, `make bench-registry`). The same binary drives the modbridge broker
 * and Mosquitto, both with a TLS listener, password logins and access rules.
 *
 * One thread, one epoll set (level-triggered), non-blocking TCP sockets with TCP_NODELAY wrapped
 * in OpenSSL client connections: every connection does a full handshake (no session resumption),
 * verifies the server's certificate against --cafile (IP or host name of --host) and logs in with
 * a user name and password in CONNECT. Each connection has an input and an output buffer of MQTT
 * bytes; SSL_write that wants to wait keeps the rest until the socket is ready again, and input
 * goes through a framer that accepts any chunking.
 *
 * Message payloads start with 20 bytes: publisher number (u32), sequence number (u64) and send
 * time (u64, CLOCK_MONOTONIC ns), little-endian, then filler up to the payload size.
 *
 * The latency command's burst of wrong-password logins runs in a child process (fork), so its
 * TLS handshakes do not delay this process's reading of the measured messages; the child reports
 * when the burst started and ended through a pipe, and the samples whose send time falls inside
 * that span are the burst's.
 *
 * Each measuring command prints one line of key=value pairs on stdout. Diagnostics go to stderr;
 * the exit status is 0 on success, 1 on a failed run, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define HEADER_BYTES 20
#define OUT_HIGH_WATER (64 * 1024)
#define READ_CHUNK (64 * 1024)
#define MAX_UNACKED 60000
#define MAX_EVENTS 256

static const char usage_text[] =
    "usage: mqtt_tls_load COMMAND [options]\n"
    "\n"
    "MQTT 3.1.1 over TLS load generator (one thread, epoll, OpenSSL). Results: one key=value\n"
    "line on stdout.\n"
    "\n"
    "Commands:\n"
    "  freeport     print a TCP port that is free on --host now, and exit\n"
    "  probe        one login (TLS, CONNECT with --username/--password); exit 0 if accepted\n"
    "  handshakes   logins per second: --parallel connections, each in a loop of TCP connect,\n"
    "               TLS handshake, CONNECT with user name and password, CONNACK, DISCONNECT\n"
    "  throughput   one publisher, one subscriber, closed loop; messages/s delivered\n"
    "  latency      one publisher at a fixed rate, one subscriber; latency percentiles, and\n"
    "               with --burst N also while N wrong-password logins run\n"
    "  burst        N wrong-password logins (the latency command's burst, alone)\n"
    "\n"
    "Common options:\n"
    "  --host ADDR        broker address (default 127.0.0.1); the certificate must name it\n"
    "  --port PORT        broker TLS port (required, except for freeport)\n"
    "  --cafile FILE      CA certificate(s) the broker's certificate is verified with (required)\n"
    "  --username U       user name; a \"%d\" in it is replaced by 1..--users, one per login\n"
    "                     in turn (default dev-1)\n"
    "  --users N          how many user names \"%d\" runs through (default 1)\n"
    "  --password P       password of every --username (required, except for burst)\n"
    "  --timeout S        limit for logging in (and subscribing) the clients (default 10)\n"
    "\n"
    "handshakes options:\n"
    "  --parallel N       logins in flight at once (default 4)\n"
    "  --warmup S         seconds of logins before counting (default 0.5)\n"
    "  --seconds S        seconds counted (default 3)\n"
    "  output: mode=handshakes ... logins_per_s= login_p50_ms= login_p99_ms= (TCP connect to\n"
    "  CONNACK) load_cpu= tls= cipher=\n"
    "\n"
    "throughput and latency options:\n"
    "  --sub-username U, --sub-password P   the subscriber's login (default: as the publisher)\n"
    "  --topic T          topic published to (default $devices/dev-1/events)\n"
    "  --filter F         the subscriber's filter (default: --topic)\n"
    "  --qos 0|1          QoS of PUBLISH and SUBSCRIBE (default 1)\n"
    "  --payload BYTES    payload size, at least 20 (default 64)\n"
    "throughput:\n"
    "  --window N         messages published and not yet received at most (default 1000)\n"
    "  --warmup S, --seconds S   (defaults 0.5 and 3)\n"
    "  output: mode=throughput ... msgs_per_s= lost= dup= bad= unacked= load_cpu= tls= cipher=\n"
    "latency:\n"
    "  --rate N           messages per second, fixed schedule (default 1000)\n"
    "  --warmup-count N   messages sent first and not measured (default 500)\n"
    "  --count N          messages measured without a burst (the baseline; default 5000)\n"
    "  --burst N          then N wrong-password logins from a child process; the messages sent\n"
    "                     while they run are measured too (default 0: none)\n"
    "  output: mode=latency ... base_received= base_p50_us= base_p99_us= base_max_us=\n"
    "  and with --burst: burst_s= burst_received= burst_p50_us= burst_p99_us= burst_max_us=\n"
    "  burst_refused= burst_closed= burst_accepted= burst_errors=\n"
    "\n"
    "burst options (also for latency --burst):\n"
    "  --burst-username U   user names of the wrong logins, \"%d\" as --username (default\n"
    "                     --username); each login sends a different wrong password\n"
    "  --burst-users N    (default --users)\n"
    "  --burst-parallel N logins in flight at once (default 50)\n"
    "  --burst-timeout S  limit for the whole burst (default 900)\n"
    "  --count N          (burst command) logins (default 1000)\n"
    "  output: mode=burst logins= burst_s= refused= (CONNACK 4 or 5) closed= (closed by the\n"
    "  broker without CONNACK) accepted= errors=\n"
    "\n"
    "Examples:\n"
    "  mqtt_tls_load handshakes --port 8883 --cafile ca.pem --username 'dev-%d' --users 4 --password P\n"
    "  mqtt_tls_load throughput --port 8883 --cafile ca.pem --username dev-1 --password P \\\n"
    "      --sub-username bench --sub-password Q --topic '$devices/dev-1/events' --filter '$devices/+/events'\n"
    "  mqtt_tls_load latency ... --rate 1000 --count 5000 --burst 1000\n";

/* ---------- errors ---------- */

static const char *prog_tag = "mqtt_tls_load";
#define BUF_FIRST_CAPACITY 256
#include "load_common.h"

/* The oldest queued OpenSSL error as text (the queue is cleared), or `fallback`. */
static const char *ssl_error_text(const char *fallback)
{
    static char text[256];
    unsigned long e = ERR_get_error();
    if (e == 0)
        return fallback;
    ERR_error_string_n(e, text, sizeof text);
    ERR_clear_error();
    return text;
}

/* ---------- MQTT 3.1.1 encoding ---------- */

static uint8_t *put_str(uint8_t *w, const char *s, size_t n)
{
    w = put_u16(w, (unsigned)n);
    memcpy(w, s, n);
    return w + n;
}

static void put_le(uint8_t *w, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        w[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *r, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | r[i];
    return v;
}

/* CONNECT, protocol level 4, clean session, keep-alive 0, user name and password. */
static void mqtt_connect(buf_t *b, const char *client_id, const char *user, const char *pass)
{
    size_t il = strlen(client_id), ul = strlen(user), pl = strlen(pass);
    uint8_t *w = put_header(b, 0x10, 10 + 2 + il + 2 + ul + 2 + pl);
    w = put_str(w, "MQTT", 4);
    *w++ = 4;
    *w++ = 0x02 | 0x80 | 0x40; /* clean session, user name, password */
    w = put_u16(w, 0);
    w = put_str(w, client_id, il);
    w = put_str(w, user, ul);
    put_str(w, pass, pl);
}

static void mqtt_subscribe(buf_t *b, unsigned packet_id, const char *filter, int qos)
{
    size_t fl = strlen(filter);
    uint8_t *w = put_header(b, 0x82, 2 + 2 + fl + 1);
    w = put_u16(w, packet_id);
    w = put_str(w, filter, fl);
    *w = (uint8_t)qos;
}

static uint8_t *mqtt_publish(buf_t *b, const char *topic, size_t topic_len, int qos, unsigned packet_id,
                             size_t payload_len)
{
    size_t remaining = 2 + topic_len + (qos > 0 ? 2 : 0) + payload_len;
    uint8_t *w = put_header(b, (uint8_t)(0x30 | qos << 1), remaining);
    w = put_str(w, topic, topic_len);
    if (qos > 0)
        w = put_u16(w, packet_id);
    return w;
}

static void mqtt_puback(buf_t *b, unsigned packet_id)
{
    put_u16(put_header(b, 0x40, 2), packet_id);
}

/* ---------- options ---------- */

typedef struct {
    const char *host, *port, *cafile;
    const char *username, *password;
    long users;
    const char *sub_username, *sub_password;
    const char *topic, *filter;
    double timeout;
    long parallel, qos, payload, window;
    double warmup, seconds, rate;
    long count, warmup_count, burst;
    const char *burst_username;
    long burst_users, burst_parallel;
    double burst_timeout;
} opts_t;

/* ---------- connections and the event loop ---------- */

enum { R_PUB, R_SUB, R_LOGIN, R_WRONG };
enum { ST_TCP, ST_TLS, ST_CONNACK, ST_SUBACK, ST_READY, ST_CLOSED };

typedef struct {
    int fd;
    SSL *ssl;
    int role;
    int slot;
    int state;
    int want_out;
    uint64_t opened_ns;
    buf_t in, out;
    uint64_t sent, acked; /* publisher */
    uint64_t next_seq;    /* subscriber */
} conn_t;

typedef struct {
    int64_t latency_ns;
    uint64_t sent_ns;
} sample_t;

static struct {
    const opts_t *o;
    SSL_CTX *ctx;
    int ep;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int host_is_ip;
    int tolerant;      /* burst: a broken connection is counted, not fatal */
    char tls[32], cipher[64];
    conn_t *pub, *sub;
    char topic[256];
    size_t topic_len;
    uint64_t rx_ns;
    uint64_t delivered, dups, gaps, bad;
    /* handshakes and burst */
    uint64_t logins_done, refused, closed, accepted, errors;
    uint64_t counting_from; /* handshakes: logins completed at or after this instant are counted */
    int64_t *login_ns;
    size_t nlogin, login_cap;
    uint64_t counted_logins;
    /* latency */
    int measuring;
    sample_t *lat; /* each measured message */
    size_t nlat, lat_cap;
    uint64_t lat_from;
} G;

static char timer_tag, pipe_tag;

static const char *role_name(int role)
{
    static const char *names[] = { "publisher", "subscriber", "login", "wrong-password login" };
    return names[role];
}

static void conn_release(conn_t *c)
{
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0 && close(c->fd) != 0)
        warnx("close: %s", strerror(errno));
    c->fd = -1;
    c->state = ST_CLOSED;
    buf_free(&c->in);
    buf_free(&c->out);
}

static void conn_fail(conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void conn_fail(conn_t *c, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!G.tolerant)
        die("%s %d: %s", role_name(c->role), c->slot, msg);
    if (G.errors < 5)
        warnx("%s %d: %s", role_name(c->role), c->slot, msg);
    else if (G.errors == 5)
        warnx("(further connection errors not shown)");
    G.errors++;
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

/* What an SSL call that returned `rc` is waiting for: 0 input, 1 output, -1 failed (reported). */
static int ssl_wait(conn_t *c, int rc, const char *what)
{
    int err = SSL_get_error(c->ssl, rc);
    if (err == SSL_ERROR_WANT_READ)
        return 0;
    if (err == SSL_ERROR_WANT_WRITE)
        return 1;
    if (err == SSL_ERROR_ZERO_RETURN) {
        conn_fail(c, "%s: connection closed by the broker", what);
        return -1;
    }
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        conn_fail(c, "%s: %s", what, errno != 0 ? strerror(errno) : "connection closed by the broker");
        return -1;
    }
    conn_fail(c, "%s: %s", what, ssl_error_text("TLS error"));
    return -1;
}

static void conn_flush(conn_t *c)
{
    while (c->out.off < c->out.len) {
        ERR_clear_error();
        size_t n = 0;
        int rc = SSL_write_ex(c->ssl, c->out.p + c->out.off, c->out.len - c->out.off, &n);
        if (rc == 1) {
            c->out.off += n;
            continue;
        }
        int w = ssl_wait(c, 0, "SSL_write");
        if (w >= 0)
            set_want_out(c, w);
        return;
    }
    c->out.off = c->out.len = 0;
    set_want_out(c, 0);
}

static void conn_open(conn_t *c, int role, int slot, const char *client_id, const char *user, const char *pass)
{
    memset(c, 0, sizeof *c);
    c->role = role;
    c->slot = slot;
    c->state = ST_TCP;
    c->opened_ns = now_ns();
    c->fd = socket(G.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die_errno("socket");
    int one = 1;
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        die_errno("setsockopt TCP_NODELAY");
    mqtt_connect(&c->out, client_id, user, pass);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
    if (epoll_ctl(G.ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die_errno("epoll_ctl ADD");
    c->want_out = 1;
    if (connect(c->fd, (const struct sockaddr *)&G.addr, G.addr_len) != 0 && errno != EINPROGRESS)
        conn_fail(c, "connect: %s", strerror(errno));
}

/* DISCONNECT and close_notify if they fit now, then close. */
static void conn_close(conn_t *c)
{
    if (c->state == ST_CLOSED)
        return;
    if (c->state >= ST_CONNACK && c->out.off == c->out.len) {
        static const uint8_t disconnect[2] = { 0xE0, 0 };
        size_t n;
        ERR_clear_error();
        if (c->state != ST_CONNACK || c->role == R_LOGIN)
            SSL_write_ex(c->ssl, disconnect, sizeof disconnect, &n);
        SSL_shutdown(c->ssl);
        ERR_clear_error();
    }
    conn_release(c);
}

static void tls_established(conn_t *c)
{
    if (G.tls[0] == '\0') {
        snprintf(G.tls, sizeof G.tls, "%s", SSL_get_version(c->ssl));
        snprintf(G.cipher, sizeof G.cipher, "%s", SSL_get_cipher_name(c->ssl));
    }
    c->state = ST_CONNACK;
    conn_flush(c); /* CONNECT */
}

static void tls_step(conn_t *c)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(c->ssl);
    if (rc == 1) {
        tls_established(c);
        return;
    }
    int w = ssl_wait(c, rc, "TLS handshake");
    if (w >= 0)
        set_want_out(c, w);
}

static void tls_start(conn_t *c)
{
    c->ssl = SSL_new(G.ctx);
    if (c->ssl == NULL)
        die("SSL_new: %s", ssl_error_text("failed"));
    if (SSL_set_fd(c->ssl, c->fd) != 1)
        die("SSL_set_fd: %s", ssl_error_text("failed"));
    X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
    if (G.host_is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, G.o->host) != 1)
            die("the certificate check for IP %s: %s", G.o->host, ssl_error_text("failed"));
    } else if (SSL_set1_host(c->ssl, G.o->host) != 1 || SSL_set_tlsext_host_name(c->ssl, G.o->host) != 1) {
        die("the certificate check for %s: %s", G.o->host, ssl_error_text("failed"));
    }
    SSL_set_connect_state(c->ssl);
    c->state = ST_TLS;
    tls_step(c);
}

static void on_login_result(conn_t *c, int code);
static void on_message(conn_t *c, const uint8_t *topic, size_t topic_len, const uint8_t *payload, size_t len);

static void on_packet(conn_t *c, uint8_t first, const uint8_t *body, size_t len)
{
    switch (first >> 4) {
    case 2: /* CONNACK */
        if (c->state != ST_CONNACK || len != 2) {
            conn_fail(c, "unexpected CONNACK");
            return;
        }
        if (c->role == R_LOGIN || c->role == R_WRONG) {
            on_login_result(c, body[1]);
            return;
        }
        if (body[1] != 0) {
            conn_fail(c, "CONNACK refused the login, return code %u", body[1]);
            return;
        }
        if (c->role == R_SUB) {
            mqtt_subscribe(&c->out, 1, G.o->filter, (int)G.o->qos);
            c->state = ST_SUBACK;
        } else {
            c->state = ST_READY;
        }
        return;
    case 3: { /* PUBLISH */
        int qos = (first >> 1) & 3;
        if (c->role != R_SUB || c->state != ST_READY) {
            conn_fail(c, "PUBLISH received but not subscribed");
            return;
        }
        if (qos > 1 || len < 2 || 2 + get_u16(body) + (qos > 0 ? 2u : 0u) > len) {
            conn_fail(c, "malformed PUBLISH (QoS %d, %zu bytes)", qos, len);
            return;
        }
        size_t topic_len = get_u16(body);
        size_t pos = 2 + topic_len + (qos > 0 ? 2 : 0);
        if (qos > 0)
            mqtt_puback(&c->out, get_u16(body + 2 + topic_len));
        on_message(c, body + 2, topic_len, body + pos, len - pos);
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
            conn_fail(c, "SUBACK granted 0x%02x to '%s', QoS %ld requested (not allowed?)", body[2], G.o->filter,
                      G.o->qos);
            return;
        }
        c->state = ST_READY;
        return;
    default:
        conn_fail(c, "unexpected packet type %u", first >> 4);
        return;
    }
}

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
        if (!complete || avail < i + remaining)
            break;
        b->off += i + remaining;
        on_packet(c, p[0], p + i, remaining);
    }
    if (c->state != ST_CLOSED && b->off == b->len)
        b->off = b->len = 0;
}

static void conn_read(conn_t *c)
{
    for (;;) {
        buf_reserve(&c->in, READ_CHUNK);
        size_t n = 0;
        ERR_clear_error();
        int rc = SSL_read_ex(c->ssl, c->in.p + c->in.len, c->in.cap - c->in.len, &n);
        if (rc != 1) {
            int w = ssl_wait(c, 0, "SSL_read");
            if (w == 1)
                set_want_out(c, 1);
            break;
        }
        G.rx_ns = now_ns();
        c->in.len += n;
        conn_parse(c);
        if (c->state == ST_CLOSED)
            return;
        /* Answers (PUBACK) go out with each chunk read, not after all input is read. */
        if (c->out.len > c->out.off && !c->want_out) {
            conn_flush(c);
            if (c->state == ST_CLOSED)
                return;
        }
    }
}

static void on_event(conn_t *c, uint32_t events)
{
    if (c->state == ST_CLOSED)
        return;
    if (c->state == ST_TCP) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            die_errno("getsockopt SO_ERROR");
        if (err != 0) {
            conn_fail(c, "connect: %s", strerror(err));
            return;
        }
        tls_start(c);
        return;
    }
    if (c->state == ST_TLS) {
        tls_step(c);
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
static void on_pipe(int fd);

static void loop_once(int timeout_ms, int tfd, int pfd)
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
        else if (ev[i].data.ptr == &pipe_tag)
            on_pipe(pfd);
        else
            on_event(ev[i].data.ptr, ev[i].events);
    }
}

/* ---------- setup ---------- */

static void setup(const opts_t *o)
{
    G.o = o;
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die_errno("signal SIGPIPE");
    if (o->port == NULL)
        die("--port is required (see mqtt_tls_load --help)");
    if (o->cafile == NULL)
        die("--cafile is required (see mqtt_tls_load --help)");
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0)
        die("%s port %s: %s", o->host, o->port, gai_strerror(rc));
    memcpy(&G.addr, res->ai_addr, res->ai_addrlen);
    G.addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    struct in6_addr scratch;
    G.host_is_ip = inet_pton(AF_INET, o->host, &scratch) == 1 || inet_pton(AF_INET6, o->host, &scratch) == 1;

    G.ctx = SSL_CTX_new(TLS_client_method());
    if (G.ctx == NULL)
        die("SSL_CTX_new: %s", ssl_error_text("failed"));
    SSL_CTX_set_min_proto_version(G.ctx, TLS1_2_VERSION);
    if (SSL_CTX_load_verify_locations(G.ctx, o->cafile, NULL) != 1)
        die("%s: %s", o->cafile, ssl_error_text("cannot load the CA certificate"));
    SSL_CTX_set_verify(G.ctx, SSL_VERIFY_PEER, NULL);
    /* Every login is a full handshake, as a fleet of devices connecting would make. */
    SSL_CTX_set_session_cache_mode(G.ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(G.ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(G.ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    G.ep = epoll_create1(EPOLL_CLOEXEC);
    if (G.ep < 0)
        die_errno("epoll_create1");
}

/* `template` with its "%d" (if any) replaced by 1 + n % users. */
static void user_name(char *out, size_t size, const char *template, uint64_t n, long users)
{
    const char *at = strstr(template, "%d");
    if (at == NULL) {
        snprintf(out, size, "%s", template);
        return;
    }
    snprintf(out, size, "%.*s%" PRIu64 "%s", (int)(at - template), template, 1 + n % (uint64_t)users, at + 2);
}

/* Nearest-rank percentile of a sorted array, divided by `unit`. */
static double pct(const int64_t *v, size_t n, double p, double unit)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / unit;
}

static void push_i64(int64_t **v, size_t *n, size_t *cap, int64_t x)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = x;
}

/* ---------- logins: handshakes, probe and burst ---------- */

static conn_t *slots;
static uint64_t logins_opened, logins_wanted;
static pid_t self_pid;

static void open_login(int slot)
{
    char id[48], user[128], pass[96];
    conn_t *c = &slots[slot];
    uint64_t n = logins_opened++;
    if (G.tolerant) {
        snprintf(id, sizeof id, "mtb%d-%" PRIu64, (int)self_pid, n);
        user_name(user, sizeof user, G.o->burst_username, n, G.o->burst_users);
        /* A different wrong password each time: no cache of a refusal can help. */
        snprintf(pass, sizeof pass, "Wrong-Passw0rd-%d-%" PRIu64, (int)self_pid, n);
        conn_open(c, R_WRONG, slot, id, user, pass);
    } else {
        snprintf(id, sizeof id, "mth%d-%" PRIu64, (int)self_pid, n);
        user_name(user, sizeof user, G.o->username, n, G.o->users);
        conn_open(c, R_LOGIN, slot, id, user, G.o->password);
    }
}

static void on_login_result(conn_t *c, int code)
{
    uint64_t now = now_ns();
    if (c->role == R_LOGIN) {
        if (code != 0)
            die("login %d refused with CONNACK %d (wrong password or user name?)", c->slot, code);
        if (G.counting_from != 0 && now >= G.counting_from) {
            G.counted_logins++;
            push_i64(&G.login_ns, &G.nlogin, &G.login_cap, (int64_t)(now - c->opened_ns));
        }
    } else if (code == 0) {
        G.accepted++;
    } else {
        G.refused++;
    }
    G.logins_done++;
    conn_close(c);
}

/* Keeps each slot busy: a closed slot opens the next login, while logins are still wanted. */
static void refill_slots(long nslots)
{
    for (int s = 0; s < nslots; s++) {
        conn_t *c = &slots[s];
        if (c->state == ST_CLOSED && logins_opened < logins_wanted)
            open_login(s);
    }
}

static void logins_init(long nslots, int role)
{
    slots = calloc((size_t)nslots, sizeof *slots);
    if (slots == NULL)
        die("out of memory");
    for (int s = 0; s < nslots; s++) {
        slots[s].state = ST_CLOSED;
        slots[s].role = role;
        slots[s].fd = -1;
    }
    self_pid = getpid();
}

static int cmd_probe(const opts_t *o)
{
    setup(o);
    logins_init(1, R_LOGIN);
    logins_wanted = 1;
    refill_slots(1);
    uint64_t deadline = now_ns() + (uint64_t)(o->timeout * 1e9);
    while (G.logins_done == 0) {
        if (now_ns() >= deadline)
            die("no CONNACK within %.1f s", o->timeout);
        loop_once(20, -1, -1);
    }
    return 0;
}

static int cmd_handshakes(const opts_t *o)
{
    setup(o);
    logins_init(o->parallel, R_LOGIN);
    logins_wanted = UINT64_MAX;
    uint64_t start = now_ns();
    uint64_t t_count = start + (uint64_t)(o->warmup * 1e9);
    uint64_t t_end = t_count + (uint64_t)(o->seconds * 1e9);
    G.counting_from = t_count;
    uint64_t c0 = 0, now;
    int counting = 0;
    while ((now = now_ns()) < t_end) {
        if (!counting && now >= t_count) {
            counting = 1;
            c0 = cpu_ns();
        }
        refill_slots(o->parallel);
        loop_once(10, -1, -1);
    }
    uint64_t c1 = cpu_ns();
    double secs = (double)(t_end - t_count) / 1e9;
    qsort(G.login_ns, G.nlogin, sizeof *G.login_ns, cmp_i64);
    printf("mode=handshakes parallel=%ld users=%ld seconds=%.3f logins=%" PRIu64 " logins_per_s=%.0f "
           "login_p50_ms=%.2f login_p99_ms=%.2f load_cpu=%.2f tls=%s cipher=%s\n",
           o->parallel, o->users, secs, G.counted_logins, (double)G.counted_logins / secs,
           pct(G.login_ns, G.nlogin, 50, 1e6), pct(G.login_ns, G.nlogin, 99, 1e6),
           (double)(c1 - c0) / (double)(t_end - t_count), G.tls, G.cipher);
    if (fflush(stdout) != 0)
        die_errno("stdout");
    for (int s = 0; s < o->parallel; s++)
        conn_close(&slots[s]);
    if (G.counted_logins == 0) {
        warnx("no login completed while counting");
        return 1;
    }
    return 0;
}

/* N wrong-password logins, `burst_parallel` in flight; returns the seconds they took. With
   `report_fd` >= 0 writes "S start_ns" before and "E ..." after, one line each. */
static double run_burst(const opts_t *o, long count, int report_fd)
{
    G.tolerant = 1;
    logins_init(o->burst_parallel, R_WRONG);
    logins_wanted = (uint64_t)count;
    uint64_t start = now_ns();
    char line[256];
    int n;
    if (report_fd >= 0) {
        n = snprintf(line, sizeof line, "S %" PRIu64 "\n", start);
        if (write(report_fd, line, (size_t)n) != n)
            die_errno("burst: write to the pipe");
    }
    uint64_t deadline = start + (uint64_t)(o->burst_timeout * 1e9);
    for (;;) {
        refill_slots(o->burst_parallel);
        int busy = 0;
        for (int s = 0; s < o->burst_parallel; s++)
            busy |= slots[s].state != ST_CLOSED;
        if (!busy && logins_opened >= logins_wanted)
            break;
        if (now_ns() >= deadline)
            die("burst: %" PRIu64 " of %ld logins answered within %.0f s", G.logins_done, count, o->burst_timeout);
        loop_once(50, -1, -1);
    }
    uint64_t end = now_ns();
    /* Closed without CONNACK: counted apart from the refusals (errors holds them). */
    G.closed = G.errors;
    if (report_fd >= 0) {
        n = snprintf(line, sizeof line, "E %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", end, G.refused,
                     G.closed, G.accepted);
        if (write(report_fd, line, (size_t)n) != n)
            die_errno("burst: write to the pipe");
    }
    return (double)(end - start) / 1e9;
}

static int cmd_burst(const opts_t *o)
{
    setup(o);
    double secs = run_burst(o, o->count, -1);
    printf("mode=burst logins=%ld parallel=%ld burst_s=%.2f refused=%" PRIu64 " closed=%" PRIu64 " accepted=%" PRIu64
           "\n", o->count, o->burst_parallel, secs, G.refused, G.closed, G.accepted);
    if (fflush(stdout) != 0)
        die_errno("stdout");
    return G.accepted > 0 ? 1 : 0;
}

/* ---------- publisher and subscriber: throughput and latency ---------- */

static void on_message(conn_t *c, const uint8_t *topic, size_t topic_len, const uint8_t *payload, size_t len)
{
    (void)c;
    if (topic_len != G.topic_len || memcmp(topic, G.topic, topic_len) != 0 || len != (size_t)G.o->payload) {
        G.bad++;
        return;
    }
    uint64_t seq = get_le(payload + 4, 8);
    uint64_t sent_ns = get_le(payload + 12, 8);
    if (get_le(payload, 4) != 0 || seq >= G.pub->sent) {
        G.bad++;
        return;
    }
    if (seq < G.sub->next_seq) {
        G.dups++;
        return;
    }
    G.gaps += seq - G.sub->next_seq;
    G.sub->next_seq = seq + 1;
    G.delivered++;
    if (G.measuring && seq >= G.lat_from) {
        if (G.nlat == G.lat_cap) {
            G.lat_cap = G.lat_cap ? G.lat_cap * 2 : 4096;
            G.lat = xrealloc(G.lat, G.lat_cap * sizeof *G.lat);
        }
        G.lat[G.nlat++] = (sample_t){ (int64_t)(G.rx_ns - sent_ns), sent_ns };
    }
}

static void open_pubsub(const opts_t *o, conn_t conns[2])
{
    snprintf(G.topic, sizeof G.topic, "%s", o->topic);
    G.topic_len = strlen(G.topic);
    char id[48];
    self_pid = getpid();
    snprintf(id, sizeof id, "mts%d", (int)self_pid);
    conn_open(&conns[0], R_SUB, 0, id, o->sub_username, o->sub_password);
    snprintf(id, sizeof id, "mtp%d", (int)self_pid);
    conn_open(&conns[1], R_PUB, 1, id, o->username, o->password);
    G.sub = &conns[0];
    G.pub = &conns[1];
    uint64_t deadline = now_ns() + (uint64_t)(o->timeout * 1e9);
    while (G.sub->state != ST_READY || G.pub->state != ST_READY) {
        if (now_ns() >= deadline)
            die("timed out after %.1f s logging in the publisher (%s) and subscribing (%s to %s)", o->timeout,
                o->username, o->sub_username, o->filter);
        loop_once(20, -1, -1);
    }
}

static void publish_one(uint64_t stamp_ns)
{
    conn_t *p = G.pub;
    unsigned packet_id = G.o->qos > 0 ? (unsigned)(p->sent % 65535) + 1 : 0;
    uint8_t *w = mqtt_publish(&p->out, G.topic, G.topic_len, (int)G.o->qos, packet_id, (size_t)G.o->payload);
    put_le(w, 0, 4);
    put_le(w + 4, p->sent, 8);
    put_le(w + 12, stamp_ns, 8);
    memset(w + HEADER_BYTES, 'x', (size_t)G.o->payload - HEADER_BYTES);
    p->sent++;
}

static int all_done(void)
{
    return G.sub->next_seq >= G.pub->sent && (G.o->qos == 0 || G.pub->acked >= G.pub->sent);
}

static void drain(double drain_s, int tfd)
{
    uint64_t deadline = now_ns() + (uint64_t)(drain_s * 1e9);
    while (!all_done() && now_ns() < deadline)
        loop_once(10, tfd, -1);
}

static uint64_t count_lost(void)
{
    return G.gaps + (G.pub->sent - G.sub->next_seq);
}

static uint64_t count_unacked(void)
{
    return G.o->qos > 0 ? G.pub->sent - G.pub->acked : 0;
}

static int cmd_throughput(const opts_t *o)
{
    setup(o);
    conn_t conns[2];
    open_pubsub(o, conns);
    uint64_t window = (uint64_t)o->window;
    uint64_t refill = window / 8 > 0 ? window / 8 : 1;
    uint64_t start = now_ns();
    uint64_t t_count = start + (uint64_t)(o->warmup * 1e9);
    uint64_t t_end = t_count + (uint64_t)(o->seconds * 1e9);
    uint64_t t0 = 0, t1 = 0, d0 = 0, d1 = 0, c0 = 0, c1 = 0;
    for (int phase = 0;;) {
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
        conn_t *p = G.pub;
        uint64_t received = G.sub->next_seq;
        if (!p->want_out && p->sent - received <= window - refill) {
            int added = 0;
            uint64_t stamp = now_ns();
            while (p->sent - received < window && p->out.len - p->out.off < OUT_HIGH_WATER
                   && (o->qos == 0 || p->sent - p->acked < MAX_UNACKED)) {
                publish_one(stamp);
                added = 1;
            }
            if (added)
                conn_flush(p);
        }
        loop_once(1, -1, -1);
    }
    drain(5.0, -1);
    double secs = (double)(t1 - t0) / 1e9;
    printf("mode=throughput qos=%ld payload=%ld window=%ld seconds=%.3f sent=%" PRIu64 " delivered=%" PRIu64
           " counted=%" PRIu64 " msgs_per_s=%.0f lost=%" PRIu64 " dup=%" PRIu64 " bad=%" PRIu64 " unacked=%" PRIu64
           " load_cpu=%.2f tls=%s cipher=%s\n",
           o->qos, o->payload, o->window, secs, G.pub->sent, G.delivered, d1 - d0, (double)(d1 - d0) / secs,
           count_lost(), G.dups, G.bad, count_unacked(), (double)(c1 - c0) / (double)(t1 - t0), G.tls, G.cipher);
    if (fflush(stdout) != 0)
        die_errno("stdout");
    conn_close(&conns[0]);
    conn_close(&conns[1]);
    if (G.delivered == 0) {
        warnx("no message was delivered");
        return 1;
    }
    return 0;
}

static uint64_t lat_total;   /* messages to send; UINT64_MAX while a burst runs */
static int burst_state;      /* 0 none or not started, 1 running, 2 ended */
static uint64_t burst_start_ns, burst_end_ns, burst_refused, burst_closed, burst_accepted;
static char pipe_buf[512];
static size_t pipe_len;

static void on_timer(int tfd)
{
    uint64_t expirations;
    ssize_t n = read(tfd, &expirations, sizeof expirations);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n != (ssize_t)sizeof expirations)
        die("read timerfd: %s", n < 0 ? strerror(errno) : "short read");
    /* Late ticks are sent at once, each stamped with the time it is written. */
    for (uint64_t i = 0; i < expirations && G.pub->sent < lat_total; i++)
        publish_one(now_ns());
    if (!G.pub->want_out)
        conn_flush(G.pub);
}

static void on_pipe(int fd)
{
    ssize_t n = read(fd, pipe_buf + pipe_len, sizeof pipe_buf - 1 - pipe_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (burst_state != 2)
            die("the burst process ended without reporting its end (see its messages above)");
        struct epoll_event ev = { 0 };
        epoll_ctl(G.ep, EPOLL_CTL_DEL, fd, &ev);
        return;
    }
    pipe_len += (size_t)n;
    pipe_buf[pipe_len] = '\0';
    char *nl;
    while ((nl = strchr(pipe_buf, '\n')) != NULL) {
        *nl = '\0';
        if (pipe_buf[0] == 'S' && sscanf(pipe_buf, "S %" SCNu64, &burst_start_ns) == 1) {
            burst_state = 1;
        } else if (pipe_buf[0] == 'E' && sscanf(pipe_buf, "E %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
                                                &burst_end_ns, &burst_refused, &burst_closed, &burst_accepted) == 4) {
            burst_state = 2;
        } else {
            die("unexpected report from the burst process: %s", pipe_buf);
        }
        size_t used = (size_t)(nl - pipe_buf) + 1;
        memmove(pipe_buf, nl + 1, pipe_len - used + 1);
        pipe_len -= used;
    }
}

/* The burst child: a fresh epoll set and TLS context of its own; never touches the parent's. */
static pid_t start_burst(const opts_t *o, int *read_fd)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        die_errno("pipe2");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        die_errno("fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        prog_tag = "mqtt_tls_load (burst)";
        close(fds[0]);
        memset(&G, 0, sizeof G);
        setup(o);
        run_burst(o, o->burst, fds[1]);
        _exit(0);
    }
    close(fds[1]);
    *read_fd = fds[0];
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &pipe_tag };
    if (epoll_ctl(G.ep, EPOLL_CTL_ADD, fds[0], &ev) != 0)
        die_errno("epoll_ctl ADD pipe");
    return pid;
}

static void print_stats(const char *prefix, int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    printf(" %s_received=%zu %s_p50_us=%.1f %s_p99_us=%.1f %s_max_us=%.1f %s_mean_us=%.1f", prefix, n, prefix,
           pct(v, n, 50, 1e3), prefix, pct(v, n, 99, 1e3), prefix, n ? (double)v[n - 1] / 1e3 : 0.0, prefix,
           n ? sum / (double)n / 1e3 : 0.0);
}

static int cmd_latency(const opts_t *o)
{
    setup(o);
    conn_t conns[2];
    open_pubsub(o, conns);
    uint64_t base_total = (uint64_t)o->warmup_count + (uint64_t)o->count;
    lat_total = o->burst > 0 ? UINT64_MAX : base_total;
    G.lat_from = (uint64_t)o->warmup_count;
    G.measuring = 1;

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0)
        die_errno("timerfd_create");
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &timer_tag };
    if (epoll_ctl(G.ep, EPOLL_CTL_ADD, tfd, &ev) != 0)
        die_errno("epoll_ctl ADD timerfd");
    uint64_t period = (uint64_t)(1e9 / o->rate);
    struct itimerspec its = {
        .it_interval = { (time_t)(period / 1000000000u), (long)(period % 1000000000u) },
        .it_value = { (time_t)(period / 1000000000u), (long)(period % 1000000000u) },
    };
    if (timerfd_settime(tfd, 0, &its, NULL) != 0)
        die_errno("timerfd_settime");
    int pfd = -1;
    pid_t child = -1;
    for (;;) {
        if (o->burst > 0 && child < 0 && G.pub->sent >= base_total)
            child = start_burst(o, &pfd);
        if (o->burst == 0 ? G.pub->sent >= lat_total : burst_state == 2)
            break;
        loop_once(100, tfd, pfd);
    }
    lat_total = G.pub->sent;
    struct itimerspec off = { { 0, 0 }, { 0, 0 } };
    if (timerfd_settime(tfd, 0, &off, NULL) != 0)
        die_errno("timerfd_settime");
    drain(5.0, tfd);
    if (child > 0) {
        int status;
        if (waitpid(child, &status, 0) != child)
            die_errno("waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            die("the burst process failed (status %d)", status);
    }

    /* Baseline: measured messages sent before the burst (all of them without one); burst: those
       sent while it ran. */
    int64_t *base = calloc(G.nlat + 1, sizeof *base), *during = calloc(G.nlat + 1, sizeof *during);
    if (base == NULL || during == NULL)
        die("out of memory");
    size_t nb = 0, nd = 0;
    for (size_t i = 0; i < G.nlat; i++) {
        uint64_t sent = G.lat[i].sent_ns;
        if (o->burst == 0 || sent < burst_start_ns) {
            if (nb < (size_t)o->count)
                base[nb++] = G.lat[i].latency_ns;
        } else if (sent <= burst_end_ns) {
            during[nd++] = G.lat[i].latency_ns;
        }
    }
    printf("mode=latency qos=%ld payload=%ld rate=%.0f count=%ld warmup_count=%ld sent=%" PRIu64 " lost=%" PRIu64
           " dup=%" PRIu64 " bad=%" PRIu64 " unacked=%" PRIu64,
           o->qos, o->payload, o->rate, o->count, o->warmup_count, G.pub->sent, count_lost(), G.dups, G.bad,
           count_unacked());
    print_stats("base", base, nb);
    if (o->burst > 0) {
        printf(" burst=%ld burst_parallel=%ld burst_s=%.2f", o->burst, o->burst_parallel,
               (double)(burst_end_ns - burst_start_ns) / 1e9);
        print_stats("burst", during, nd);
        printf(" burst_refused=%" PRIu64 " burst_closed=%" PRIu64 " burst_accepted=%" PRIu64, burst_refused,
               burst_closed, burst_accepted);
    }
    printf(" tls=%s cipher=%s\n", G.tls, G.cipher);
    if (fflush(stdout) != 0)
        die_errno("stdout");
    conn_close(&conns[0]);
    conn_close(&conns[1]);
    if (nb == 0 || (o->burst > 0 && nd == 0)) {
        warnx("no message was measured%s", nb == 0 ? "" : " during the burst");
        return 1;
    }
    if (burst_accepted > 0) {
        warnx("%" PRIu64 " wrong-password logins were accepted", burst_accepted);
        return 1;
    }
    return 0;
}

/* ---------- freeport ---------- */

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
    close(fd);
    printf("%u\n", port);
    return 0;
}

/* ---------- options ---------- */


enum {
    O_HOST = 256, O_PORT, O_CAFILE, O_USERNAME, O_USERS, O_PASSWORD, O_SUB_USERNAME, O_SUB_PASSWORD, O_TOPIC,
    O_FILTER, O_TIMEOUT, O_PARALLEL, O_QOS, O_PAYLOAD, O_WINDOW, O_WARMUP, O_SECONDS, O_RATE, O_COUNT,
    O_WARMUP_COUNT, O_BURST, O_BURST_USERNAME, O_BURST_USERS, O_BURST_PARALLEL, O_BURST_TIMEOUT, O_HELP
};

static const struct option long_opts[] = {
    { "host", required_argument, NULL, O_HOST },
    { "port", required_argument, NULL, O_PORT },
    { "cafile", required_argument, NULL, O_CAFILE },
    { "username", required_argument, NULL, O_USERNAME },
    { "users", required_argument, NULL, O_USERS },
    { "password", required_argument, NULL, O_PASSWORD },
    { "sub-username", required_argument, NULL, O_SUB_USERNAME },
    { "sub-password", required_argument, NULL, O_SUB_PASSWORD },
    { "topic", required_argument, NULL, O_TOPIC },
    { "filter", required_argument, NULL, O_FILTER },
    { "timeout", required_argument, NULL, O_TIMEOUT },
    { "parallel", required_argument, NULL, O_PARALLEL },
    { "qos", required_argument, NULL, O_QOS },
    { "payload", required_argument, NULL, O_PAYLOAD },
    { "window", required_argument, NULL, O_WINDOW },
    { "warmup", required_argument, NULL, O_WARMUP },
    { "seconds", required_argument, NULL, O_SECONDS },
    { "rate", required_argument, NULL, O_RATE },
    { "count", required_argument, NULL, O_COUNT },
    { "warmup-count", required_argument, NULL, O_WARMUP_COUNT },
    { "burst", required_argument, NULL, O_BURST },
    { "burst-username", required_argument, NULL, O_BURST_USERNAME },
    { "burst-users", required_argument, NULL, O_BURST_USERS },
    { "burst-parallel", required_argument, NULL, O_BURST_PARALLEL },
    { "burst-timeout", required_argument, NULL, O_BURST_TIMEOUT },
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
        .host = "127.0.0.1", .username = "dev-1", .users = 1, .topic = "$devices/dev-1/events", .timeout = 10,
        .parallel = 4, .qos = 1, .payload = 64, .window = 1000, .warmup = 0.5, .seconds = 3, .rate = 1000,
        .count = -1, .warmup_count = 500, .burst_users = -1, .burst_parallel = 50, .burst_timeout = 900,
    };
    char **av = argv + 1;
    int ac = argc - 1;
    int c;
    opterr = 0;
    while ((c = getopt_long(ac, av, ":", long_opts, NULL)) != -1) {
        switch (c) {
        case O_HOST: o.host = optarg; break;
        case O_PORT: parse_long("port", optarg, 1, 65535); o.port = optarg; break;
        case O_CAFILE: o.cafile = optarg; break;
        case O_USERNAME: o.username = optarg; break;
        case O_USERS: o.users = parse_long("users", optarg, 1, 1000000); break;
        case O_PASSWORD: o.password = optarg; break;
        case O_SUB_USERNAME: o.sub_username = optarg; break;
        case O_SUB_PASSWORD: o.sub_password = optarg; break;
        case O_TOPIC: o.topic = optarg; break;
        case O_FILTER: o.filter = optarg; break;
        case O_TIMEOUT: o.timeout = parse_double("timeout", optarg, 0.01, 3600); break;
        case O_PARALLEL: o.parallel = parse_long("parallel", optarg, 1, 10000); break;
        case O_QOS: o.qos = parse_long("qos", optarg, 0, 1); break;
        case O_PAYLOAD: o.payload = parse_long("payload", optarg, HEADER_BYTES, 1 << 20); break;
        case O_WINDOW: o.window = parse_long("window", optarg, 1, 1000000); break;
        case O_WARMUP: o.warmup = parse_double("warmup", optarg, 0, 600); break;
        case O_SECONDS: o.seconds = parse_double("seconds", optarg, 0.1, 600); break;
        case O_RATE: o.rate = parse_double("rate", optarg, 1, 1e6); break;
        case O_COUNT: o.count = parse_long("count", optarg, 1, 100000000); break;
        case O_WARMUP_COUNT: o.warmup_count = parse_long("warmup-count", optarg, 0, 100000000); break;
        case O_BURST: o.burst = parse_long("burst", optarg, 0, 1000000); break;
        case O_BURST_USERNAME: o.burst_username = optarg; break;
        case O_BURST_USERS: o.burst_users = parse_long("burst-users", optarg, 1, 1000000); break;
        case O_BURST_PARALLEL: o.burst_parallel = parse_long("burst-parallel", optarg, 1, 10000); break;
        case O_BURST_TIMEOUT: o.burst_timeout = parse_double("burst-timeout", optarg, 1, 86400); break;
        case O_HELP: fputs(usage_text, stdout); return 0;
        case ':': usage_error("option %s needs a value", av[optind - 1]);
        default: usage_error("unknown option %s", av[optind - 1]);
        }
    }
    if (optind < ac)
        usage_error("unexpected argument '%s'", av[optind]);
    if (o.sub_username == NULL)
        o.sub_username = o.username;
    if (o.sub_password == NULL)
        o.sub_password = o.password;
    if (o.filter == NULL)
        o.filter = o.topic;
    if (o.burst_username == NULL)
        o.burst_username = o.username;
    if (o.burst_users < 0)
        o.burst_users = o.users;
    if (strlen(o.topic) > 200)
        usage_error("--topic: at most 200 bytes");

    if (strcmp(cmd, "freeport") == 0)
        return cmd_freeport(&o);
    int needs_password = strcmp(cmd, "burst") != 0;
    if (needs_password && o.password == NULL)
        usage_error("--password is required for %s", cmd);
    if (strcmp(cmd, "probe") == 0)
        return cmd_probe(&o);
    if (strcmp(cmd, "handshakes") == 0)
        return cmd_handshakes(&o);
    if (strcmp(cmd, "throughput") == 0)
        return cmd_throughput(&o);
    if (strcmp(cmd, "latency") == 0) {
        if (o.count < 0)
            o.count = 5000;
        return cmd_latency(&o);
    }
    if (strcmp(cmd, "burst") == 0) {
        if (o.count < 0)
            o.count = 1000;
        return cmd_burst(&o);
    }
    usage_error("unknown command '%s'", cmd);
}
