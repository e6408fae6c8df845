/*
 * The baseline for `make bench`: a plain libmodbus read loop, as one would write it in C.
 *
 *   libmodbus-loop <tty> <baud> <registers> <transactions> <silence-us>
 *
 * Opens <tty> with libmodbus's own modbus_connect, reads <registers> holding registers from
 * unit 1 <transactions> times, keeping <silence-us> of line silence before each request (as the
 * Bus does), and prints the duration of each transaction in nanoseconds, one per line.
 */
#include <errno.h>
#include <modbus.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_until_ns(int64_t deadline) {
    struct timespec t = { .tv_sec = deadline / 1000000000LL, .tv_nsec = deadline % 1000000000LL };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {}
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s <tty> <baud> <registers> <transactions> <silence-us>\n", argv[0]);
        return 64;
    }
    int baud = atoi(argv[2]), registers = atoi(argv[3]), transactions = atoi(argv[4]);
    int64_t silence = (int64_t)atoi(argv[5]) * 1000;
    modbus_t *context = modbus_new_rtu(argv[1], baud, 'N', 8, 1);
    if (context == NULL || modbus_connect(context) == -1) {
        fprintf(stderr, "cannot open %s: %s\n", argv[1], modbus_strerror(errno));
        return 1;
    }
    modbus_set_slave(context, 1);
    modbus_set_response_timeout(context, 1, 0);
    uint16_t values[MODBUS_MAX_READ_REGISTERS];
    int64_t last_end = now_ns();
    for (int i = 0; i < transactions; i++) {
        int64_t start = now_ns();
        sleep_until_ns(last_end + silence);
        if (modbus_read_registers(context, 0, registers, values) != registers) {
            fprintf(stderr, "read failed: %s\n", modbus_strerror(errno));
            return 1;
        }
        last_end = now_ns();
        printf("%lld\n", (long long)(last_end - start));
    }
    modbus_close(context);
    modbus_free(context);
    return 0;
}
