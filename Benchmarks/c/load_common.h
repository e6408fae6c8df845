/*
 * What the two MQTT load generators (mqtt_load.c, plain TCP; mqtt_tls_load.c, TLS) share:
 * diagnostics, option parsing, clocks, growable byte buffers and the MQTT fixed header. Each includes this after
 * its system headers, having defined `prog_tag` (the name diagnostics start with) and, if it
 * wants another first allocation, BUF_FIRST_CAPACITY. Everything is static: each program gets
 * its own copy, and what one of them does not use is marked unused rather than warned about.
 */
#ifndef MQTT_LOAD_COMMON_H
#define MQTT_LOAD_COMMON_H

#ifndef BUF_FIRST_CAPACITY
#define BUF_FIRST_CAPACITY 64
#endif

#define LOAD_UNUSED __attribute__((unused))

/* ---------- errors, options, time, memory ---------- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));

static void vwarnx(const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", prog_tag);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarnx(fmt, ap);
    va_end(ap);
    exit(1);
}

static LOAD_UNUSED void warnx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarnx(fmt, ap);
    va_end(ap);
}

static LOAD_UNUSED void die_errno(const char *what)
{
    die("%s: %s", what, strerror(errno));
}

/* A bad command line: the message, a pointer to --help, exit status 2. */
static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog_tag);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see %s --help)\n", prog_tag);
    va_end(ap);
    exit(2);
}

static LOAD_UNUSED long parse_long(const char *name, const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        usage_error("--%s: expected an integer from %ld to %ld, got '%s'", name, min, max, s);
    return v;
}

static LOAD_UNUSED double parse_double(const char *name, const char *s, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
        usage_error("--%s: expected a number from %g to %g, got '%s'", name, min, max, s);
    return v;
}

static LOAD_UNUSED uint64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die_errno("clock_gettime");
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static LOAD_UNUSED uint64_t cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        die_errno("getrusage");
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u
         + ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static LOAD_UNUSED void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL)
        die("out of memory (%zu bytes)", n);
    return q;
}

/* ---------- byte buffers ---------- */

typedef struct {
    uint8_t *p;
    size_t off; /* first byte not yet consumed (input) or sent (output) */
    size_t len; /* end of data */
    size_t cap;
} buf_t;
/* Make room for `extra` more bytes after len, compacting first. */
static LOAD_UNUSED void buf_reserve(buf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return;
    if (b->off > 0) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= extra)
            return;
    }
    size_t cap = b->cap ? b->cap : BUF_FIRST_CAPACITY;
    while (cap - b->len < extra)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static LOAD_UNUSED uint8_t *buf_put(buf_t *b, size_t n)
{
    buf_reserve(b, n);
    uint8_t *w = b->p + b->len;
    b->len += n;
    return w;
}

static LOAD_UNUSED void buf_free(buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---------- MQTT 3.1.1 encoding ---------- */

static LOAD_UNUSED size_t rl_size(size_t v)
{
    return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

static LOAD_UNUSED uint8_t *put_rl(uint8_t *w, size_t v)
{
    do {
        uint8_t digit = (uint8_t)(v % 128);
        v /= 128;
        if (v > 0)
            digit |= 0x80;
        *w++ = digit;
    } while (v > 0);
    return w;
}

static LOAD_UNUSED uint8_t *put_u16(uint8_t *w, unsigned v)
{
    *w++ = (uint8_t)(v >> 8);
    *w++ = (uint8_t)v;
    return w;
}

static LOAD_UNUSED unsigned get_u16(const uint8_t *r)
{
    return (unsigned)r[0] << 8 | r[1];
}

static LOAD_UNUSED uint8_t *put_header(buf_t *b, uint8_t first, size_t remaining)
{
    uint8_t *w = buf_put(b, 1 + rl_size(remaining) + remaining);
    *w++ = first;
    return put_rl(w, remaining);
}

/* qsort order of int64_t samples. */
static LOAD_UNUSED int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

#endif
