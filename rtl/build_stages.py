"""The stages of a toolchain build, shown as they start.

Amaranth runs Yosys, nextpnr and the packer from one script with their output quiet; each
tool writes its log to a file in the build folder (``{name}.rpt``, ``{name}.tim``). A
:class:`BuildStages` watches those logs from a thread and prints a line with the elapsed
time when the next stage begins, so minutes of synthesis and place and route are not
silent.
"""

import sys
import threading
import time
from pathlib import Path

__all__ = ["STAGES", "BuildStages"]

# (stage, log file suffix, text in that log that marks the stage's start; None: the file
# appearing does)
STAGES = (
    ("synthesis (Yosys)", ".rpt", None),
    ("packing and placement (nextpnr)", ".tim", None),
    ("routing (nextpnr)", ".tim", "Info: Routing.."),
    ("bitstream (pack)", ".tim", "Info: Program finished normally."),
)


class BuildStages:
    """Print each stage of the build in ``folder`` (tool logs ``name``.*) as it starts.

    Use as a context manager around the build: on entry it removes the logs of an earlier
    build in the folder (so they are not mistaken for this one's) and prints the first
    line; on exit it prints the total time, or nothing more when the build failed.

    Parameters
    ----------
    folder : path
        The build folder.
    name : str
        The build's name (the tools' file names).
    stream : file
        Where the lines go (default: standard error).
    interval : float
        Seconds between looks at the logs.
    """

    def __init__(self, folder, name, stream=None, interval=0.5):
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval!r}")
        self.folder, self.name = Path(folder), name
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.reached = 0  # stages printed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        for _, suffix, _ in STAGES:
            (self.folder / f"{self.name}{suffix}").unlink(missing_ok=True)
        self.started = time.monotonic()
        self._say("elaboration and RTLIL (Amaranth)")
        self._thread.start()
        return self

    def __exit__(self, kind, value, traceback):
        self._stop.set()
        self._thread.join()
        if kind is None:
            self._advance()
            self._say("done")
        return False

    def _say(self, stage):
        print(f"  [{time.monotonic() - self.started:6.1f} s] {stage}", file=self.stream,
              flush=True)

    def _started(self, suffix, marker):
        path = self.folder / f"{self.name}{suffix}"
        if marker is None:
            return path.exists()
        try:
            return marker in path.read_text(errors="replace")
        except FileNotFoundError:
            return False

    def _advance(self):
        """Print every stage whose start the logs show now, in order."""
        while self.reached < len(STAGES) and self._started(*STAGES[self.reached][1:]):
            self._say(STAGES[self.reached][0])
            self.reached += 1

    def _watch(self):
        while not self._stop.wait(self.interval):
            self._advance()
