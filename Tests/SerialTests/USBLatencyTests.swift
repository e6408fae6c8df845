import Glibc
import POSIX
import Serial
import Testing
import TestSupport

/// The FTDI latency timer, read from a fake sysfs laid out as the kernel's (no adapter here).
@Suite("USB serial adapters: latency timer and low-latency mode")
struct USBLatencyTests {
    private func makeFolder(_ path: String) {
        var built = ""
        for part in path.split(separator: "/") {
            built += "/" + part
            mkdir(built, 0o755)
        }
    }

    private func write(_ text: String, to path: String) throws {
        let descriptor = try checkedSyscall { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        defer { close(descriptor) }
        try writeAll(descriptor, Array(text.utf8))
    }

    @Test("The timer is read from the usb-serial bus, or else through the tty class")
    func readsTheTimer() throws {
        let folder = TemporaryFolder()
        makeFolder(folder.path + "/bus/usb-serial/devices/ttyUSB0")
        try write("16\n", to: folder.path + "/bus/usb-serial/devices/ttyUSB0/latency_timer")
        makeFolder(folder.path + "/class/tty/ttyUSB1/device")
        try write("1\n", to: folder.path + "/class/tty/ttyUSB1/device/latency_timer")
        let timer = USBLatencyTimer(sysfsRoot: folder.path)
        #expect(timer.latencyTimer(tty: "ttyUSB0") == 16)
        #expect(timer.latencyTimer(tty: "ttyUSB1") == 1)
        #expect(timer.latencyTimer(tty: "ttyUSB2") == nil)
    }

    @Test("A driver that refuses low latency: the refusal, the timer, and how to set it")
    func refusedLowLatencySaysHowToSetIt() throws {
        let folder = TemporaryFolder()
        makeFolder(folder.path + "/bus/usb-serial/devices/ttyUSB0")
        try write("16\n", to: folder.path + "/bus/usb-serial/devices/ttyUSB0/latency_timer")
        // A pty has no TIOCGSERIAL: the driver refuses as one without low-latency support does.
        let pair = try PseudoTerminal.open()
        let status = USBLatencyTimer(sysfsRoot: folder.path).apply(tty: "ttyUSB0", descriptor: pair.controllerDescriptor)
        #expect(status.lowLatency == .refused(Errno(rawValue: ENOTTY)))
        #expect(status.latencyBefore == 16)
        #expect(status.latencyAfter == 16)
        let advice = try #require(status.advice)
        #expect(advice.contains("write 1 to /sys/bus/usb-serial/devices/ttyUSB0/latency_timer"))
        #expect(advice.contains("ATTR{latency_timer}=\"1\""))
    }

    @Test("A 1 ms timer needs no advice; an unknown one neither")
    func noAdviceAtOneMillisecond() {
        #expect(USBLatencyStatus(tty: "ttyUSB0", latencyBefore: 16, latencyAfter: 1, lowLatency: .set).advice == nil)
        #expect(USBLatencyStatus(tty: "ttyUSB0", latencyBefore: nil, latencyAfter: nil, lowLatency: .set).advice == nil)
    }

    @Test("Only ttyUSB lines are USB serial adapters, found through links such as /dev/serial/by-id")
    func namesThroughLinks() throws {
        let folder = TemporaryFolder()
        try write("", to: folder.path + "/ttyUSB3")
        #expect(symlink(folder.path + "/ttyUSB3", folder.path + "/usb-FTDI_FT232R-if00-port0") == 0)
        #expect(USBLatencyTimer.usbSerialName(of: folder.path + "/usb-FTDI_FT232R-if00-port0") == "ttyUSB3")
        #expect(USBLatencyTimer.usbSerialName(of: "/dev/ttyUSB9") == "ttyUSB9")
        #expect(USBLatencyTimer.usbSerialName(of: "/dev/ttyS0") == nil)
        #expect(USBLatencyTimer.usbSerialName(of: "/dev/pts/3") == nil)
    }
}
