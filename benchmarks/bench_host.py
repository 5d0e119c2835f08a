"""The host tool's capacity: images/s against a board that answers at once.

    python benchmarks/bench_host.py [--images 2000]

A thread plays a board on a pseudo-terminal: it answers PING with the default network's
INFO, each RUN with a RESULT of the right length and each CLASSIFY with a class per image,
as soon as the request is complete. The host tool's ``Device`` talks to it through pyserial
with the port settings of ``fpga.run`` (50 ms read timeout), so the figure is what the host
side costs per image. Side by side in one run: ``Device.classify`` (packed codes, CLASSIFY
frames of 6 images, two in flight: ``fpga.run``), ``Device.run`` (a RUN per image, waiting
for each RESULT: ``fpga.run --check``) and asking the port for 256 bytes per read (the host
tool of protocol version 1), which waits out the read timeout on every reply.
"""

import argparse
import os
import struct
import threading
import time
import tty

import serial

from fpga.host import Device
from rtl.protocol import (
    COUNTERS,
    INFO_FORMAT,
    Command,
    FrameDecoder,
    encode_frame,
    image_bytes,
    info_prefix,
)

INPUTS, OUTPUTS, HIDDEN, STEPS = 64, 10, 1, 16


def _board(master, stop):
    """Answer every complete request frame on ``master`` at once."""
    decoder = FrameDecoder()
    info = info_prefix() + struct.pack(INFO_FORMAT, INPUTS, OUTPUTS, STEPS, 2, HIDDEN, 9472,
                                       24, 16, 1)
    result = struct.pack(f"<B{OUTPUTS}i{len(COUNTERS) + HIDDEN + 1}I", 3, *range(OUTPUTS),
                         *range(len(COUNTERS) + HIDDEN + 1))
    while not stop.is_set():
        try:
            data = os.read(master, 4096)
        except BlockingIOError:
            time.sleep(0.0001)
            continue
        for frame in decoder.feed(data):
            reply = info if frame.command == Command.PING else result
            if frame.command == Command.CLASSIFY:
                reply = bytes(len(frame.payload) // image_bytes(INPUTS, STEPS))
            os.write(master, encode_frame(frame.command | 0x80, reply))


class Reading256(Device):
    """The host tool before: ask the port for 256 bytes, whatever the reply holds."""

    def request(self, command, payload=b""):
        self.port.write(encode_frame(command, payload))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            frames = self.decoder.feed(self.port.read(256))
            if frames:
                return frames[0].payload
        raise TimeoutError


def _images_per_s(kind, images, batched=False):
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    os.set_blocking(master, False)
    stop = threading.Event()
    board = threading.Thread(target=_board, args=(master, stop), daemon=True)
    board.start()
    try:
        with serial.Serial(os.ttyname(slave), 1_000_000, timeout=0.05) as port:
            device = kind(port, timeout=2.0)
            codes = [1] * INPUTS
            device.run(codes)  # PING and a first image
            started = time.perf_counter()
            if batched:
                assert len(device.classify([codes] * images)) == images
            else:
                for _ in range(images):
                    device.run(codes)
            return images / (time.perf_counter() - started)
    finally:
        stop.set()
        board.join()
        os.close(master)
        os.close(slave)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    args = parser.parse_args()
    batched = _images_per_s(Device, 10 * args.images, batched=True)
    exact = _images_per_s(Device, args.images)
    old = _images_per_s(Reading256, max(20, args.images // 100))
    print(f"host tool against an instant board on a pseudo-terminal ({INPUTS} codes of "
          f"{image_bytes(INPUTS, STEPS)} bytes in; a class, or {OUTPUTS} potentials and "
          f"{len(COUNTERS) + HIDDEN + 1} counters out):")
    print(f"  CLASSIFY, two frames in flight:        {batched:9.1f} images/s")
    print(f"  RUN, one at a time (--check):          {exact:9.1f} images/s")
    print(f"  RUN reading 256 bytes a time (v1):     {old:9.1f} images/s")
    print(f"  ratios: {batched / exact:.1f}x and {exact / old:.0f}x")


if __name__ == "__main__":
    main()
