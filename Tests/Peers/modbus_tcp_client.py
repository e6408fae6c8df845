"""A Modbus TCP client no one here wrote: pymodbus's, for the gateway's bus server.

Usage: modbus_tcp_client.py PORT STEP...   (host 127.0.0.1)
Steps, each run in order, each printing one JSON line:
  read:UNIT:ADDRESS:COUNT        read holding registers (function 3)
  input:UNIT:ADDRESS:COUNT       read input registers (function 4)
  write:UNIT:ADDRESS:VALUE       write single register (function 6)
  coil:UNIT:ADDRESS:0|1          write single coil (function 5)
A line is {"step": ..., "registers": [...]}, {"step": ..., "ok": true}, {"step": ..., "exception": CODE}
or {"step": ..., "error": "..."}. Prints "done" at the end. Ends by itself once its parent (the test) is gone.
"""
import json
import os
import sys
import threading
import time

from pymodbus.client import ModbusTcpClient


def watch_parent():
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def run(client, step):
    kind, unit, address, last = step.split(":")
    unit, address, last = int(unit), int(address), int(last)
    if kind == "read":
        response = client.read_holding_registers(address, count=last, slave=unit)
    elif kind == "input":
        response = client.read_input_registers(address, count=last, slave=unit)
    elif kind == "write":
        response = client.write_register(address, last, slave=unit)
    elif kind == "coil":
        response = client.write_coil(address, bool(last), slave=unit)
    else:
        return {"step": step, "error": "unknown step"}
    if response.isError():
        return {"step": step, "exception": getattr(response, "exception_code", None)}
    if kind in ("read", "input"):
        return {"step": step, "registers": list(response.registers)}
    return {"step": step, "ok": True}


def main():
    threading.Thread(target=watch_parent, daemon=True).start()
    port = int(sys.argv[1])
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=10, retries=0)
    if not client.connect():
        print(json.dumps({"error": "cannot connect"}), flush=True)
        return
    for step in sys.argv[2:]:
        try:
            line = run(client, step)
        except Exception as error:  # a failed step is reported, the next ones still run
            line = {"step": step, "error": str(error)}
        print(json.dumps(line), flush=True)
    client.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
