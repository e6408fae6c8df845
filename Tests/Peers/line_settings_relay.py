"""A serial line that carries a baud rate and parity, for a device no one here wrote.

A socat pty pair does not care at which settings each side runs. This relay makes two pty
pairs: the master side (its terminal path is where the program under test connects) and the
device side (where pymodbus serves). It copies bytes between their controller ends, and drops
what the master sends while the master's termios (read from the controller end: on Linux that
reports the terminal side's settings) shows another baud rate or parity than the device's, as a
device's UART at other settings would see only noise. The pty driver clears PARENB, so parity is
read from INPCK (input parity checking, set with parity) and PARODD, which it keeps.

Prints "<master path> <device path>" and then "ready" on stdout. Ends on SIGTERM or SIGKILL,
and by itself once its parent (the test) is gone.
"""
import argparse
import os
import select
import termios
import tty

SPEEDS = {getattr(termios, "B%d" % rate): rate for rate in
          (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)}


def master_settings(descriptor):
    iflag, _, cflag, _, _, ospeed, _ = termios.tcgetattr(descriptor)
    checks_parity = bool(cflag & termios.PARENB) or bool(iflag & termios.INPCK)
    if not checks_parity:
        parity = "N"
    else:
        parity = "O" if cflag & termios.PARODD else "E"
    return SPEEDS.get(ospeed), parity


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--baud", type=int, required=True, help="the device's baud rate")
    parser.add_argument("--parity", choices="NEO", required=True, help="the device's parity")
    args = parser.parse_args()

    master_controller, master_terminal = os.openpty()
    device_controller, device_terminal = os.openpty()
    for descriptor in (master_terminal, device_terminal):
        tty.setraw(descriptor)
    print(os.ttyname(master_terminal), os.ttyname(device_terminal), flush=True)
    print("ready", flush=True)

    parent = os.getppid()
    while os.getppid() == parent:
        ready, _, _ = select.select([master_controller, device_controller], [], [], 0.5)
        for descriptor in ready:
            try:
                data = os.read(descriptor, 4096)
            except OSError:
                continue  # the other side closed its terminal for now (EIO): it may reopen
            if descriptor == master_controller:
                if master_settings(master_controller) == (args.baud, args.parity):
                    os.write(device_controller, data)
            else:
                os.write(master_controller, data)


if __name__ == "__main__":
    main()
