#ifndef MODBRIDGE_CMODBUS_SHIM_H
#define MODBRIDGE_CMODBUS_SHIM_H

#include <modbus/modbus.h>
#include <modbus/modbus-rtu.h>
#include <modbus/modbus-tcp.h>

// libmodbus reports protocol errors as errno values built from macros that
// Swift cannot import (they are expressions over other macros). These give
// Swift the same numbers.

/// errno base: errno == modbridge_modbus_errno_base() + code for exception code 1...10.
static inline int modbridge_modbus_errno_base(void) { return MODBUS_ENOBASE; }
/// One past the highest exception code libmodbus maps into errno.
static inline int modbridge_modbus_exception_max(void) { return MODBUS_EXCEPTION_MAX; }
static inline int modbridge_embbadcrc(void) { return EMBBADCRC; }
static inline int modbridge_embbaddata(void) { return EMBBADDATA; }
static inline int modbridge_embbadexc(void) { return EMBBADEXC; }
static inline int modbridge_embunkexc(void) { return EMBUNKEXC; }
static inline int modbridge_embmdata(void) { return EMBMDATA; }
static inline int modbridge_embbadslave(void) { return EMBBADSLAVE; }

#endif
