#ifndef MODBRIDGE_CSYSTEM_SHIM_H
#define MODBRIDGE_CSYSTEM_SHIM_H

// Linux system calls that Swift's Glibc module does not export: epoll and eventfd.
// struct epoll_event is packed on x86_64 and holds a union, so Swift gets plain
// integers in and out instead of the struct itself.

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <stdint.h>

static inline int modbridge_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

/// op is EPOLL_CTL_ADD, _MOD or _DEL; token comes back from modbridge_epoll_wait.
static inline int modbridge_epoll_control(int epoll, int op, int descriptor, uint32_t events, uint64_t token) {
    struct epoll_event event;
    event.events = events;
    event.data.u64 = token;
    return epoll_ctl(epoll, op, descriptor, &event);
}

/// Waits like epoll_wait and copies each ready event into tokens[i] and events[i].
static inline int modbridge_epoll_wait(int epoll, uint64_t *tokens, uint32_t *events, int capacity, int timeout) {
    struct epoll_event ready[256];
    if (capacity > 256) capacity = 256;
    int count = epoll_wait(epoll, ready, capacity, timeout);
    for (int i = 0; i < count; i++) {
        tokens[i] = ready[i].data.u64;
        events[i] = ready[i].events;
    }
    return count;
}

static inline uint32_t modbridge_epoll_in(void) { return EPOLLIN; }
static inline uint32_t modbridge_epoll_out(void) { return EPOLLOUT; }
static inline uint32_t modbridge_epoll_error(void) { return EPOLLERR; }
static inline uint32_t modbridge_epoll_hangup(void) { return EPOLLHUP; }
static inline int modbridge_epoll_ctl_add(void) { return EPOLL_CTL_ADD; }
static inline int modbridge_epoll_ctl_mod(void) { return EPOLL_CTL_MOD; }
static inline int modbridge_epoll_ctl_del(void) { return EPOLL_CTL_DEL; }

/// A non-blocking, close-on-exec eventfd with its counter at zero.
static inline int modbridge_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

#endif
