"""A Modbus server no one here wrote: pymodbus, serving RTU or ASCII on a tty, or Modbus TCP
or RTU frames over TCP (as a serial device server passes them on) on 127.0.0.1.

Unit 7 holds a known image (0-based wire addresses):
  holding 0..199 = 0, 1, 2, ...      input 0..199 = 1000, 1001, ...
  coils   0..199 = False              discrete 0..199 = True on odd addresses
Prints "ready" on stdout once the server is about to serve. Ends on SIGTERM or SIGKILL, and by itself once its parent (the test) is gone.
"""
import argparse
import asyncio
import os

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.framer import FramerType
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer

UNIT = 7


def make_context():
    # pymodbus 3 adds 1 to every wire address before looking it up: blocks start at 1.
    store = ModbusSlaveContext(
        di=ModbusSequentialDataBlock(1, [i % 2 == 1 for i in range(200)]),
        co=ModbusSequentialDataBlock(1, [False] * 200),
        hr=ModbusSequentialDataBlock(1, list(range(200))),
        ir=ModbusSequentialDataBlock(1, [1000 + i for i in range(200)]),
    )
    return ModbusServerContext(slaves={UNIT: store}, single=False)


async def main():
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--rtu", help="tty path to serve Modbus RTU on")
    group.add_argument("--tcp", type=int, help="port on 127.0.0.1 to serve Modbus TCP on")
    group.add_argument("--rtu-tcp", type=int, help="port on 127.0.0.1 to serve RTU frames over TCP on")
    parser.add_argument("--baud", type=int, default=19200)
    parser.add_argument("--framer", choices=["rtu", "ascii"], default="rtu", help="framing on the tty")
    args = parser.parse_args()

    context = make_context()
    if args.rtu:
        server = asyncio.ensure_future(StartAsyncSerialServer(
            context=context, framer=FramerType(args.framer), port=args.rtu, baudrate=args.baud,
            bytesize=8, parity="N", stopbits=1))
    elif args.rtu_tcp:
        server = asyncio.ensure_future(StartAsyncTcpServer(
            context=context, framer=FramerType.RTU, address=("127.0.0.1", args.rtu_tcp)))
    else:
        server = asyncio.ensure_future(StartAsyncTcpServer(
            context=context, framer=FramerType.SOCKET, address=("127.0.0.1", args.tcp)))
    print("ready", flush=True)
    parent = os.getppid()
    while os.getppid() == parent and not server.done():
        await asyncio.sleep(0.5)


if __name__ == "__main__":
    asyncio.run(main())
