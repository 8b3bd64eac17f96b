"""The writer process beside `linktrack serve`: started with it, restarted if it dies,
stopped with it, and gone when serve is gone.

serve keeps the write end of a pipe the writer watches: when serve exits, even
by kill -9, the writer reads end-of-file and stops, so no orphaned writer
keeps running beside the next serve. A signal to the whole process group
stops both: the writer's exit is then not taken for a crash.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

PARENT_PIPE = "LINKTRACK_PARENT_PIPE"  # the fd a supervised writer watches for end-of-file
_CLEAN_EXITS = (0, -signal.SIGTERM, -signal.SIGINT)


class WriterProcess:
    """`linktrack consume --background`, supervised by this process."""

    def __init__(self, env: dict[str, str], stopping: threading.Event) -> None:
        # At a lower CPU priority (LINKTRACK_WRITER_PRIORITY): a click burst is
        # answered first, and the writer still keeps a share of a busy core.
        self._cmd = [sys.executable, "-m", "linktrack.entrypoints.cli", "consume", "--background"]
        self._read, self._write = os.pipe()  # only the read end is passed on
        self._env = {**env, PARENT_PIPE: str(self._read)}
        self._stopping = stopping
        self._lock = threading.Lock()
        self.proc = self._start()
        threading.Thread(target=self._watch, name="writer-watch", daemon=True).start()

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self._cmd, env=self._env, pass_fds=(self._read,))

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            code = self.proc.poll()
            if code is None:
                continue
            # Stopped cleanly: most likely a signal to the whole group, which is
            # stopping serve too; give serve's own handler a moment to say so.
            if code in _CLEAN_EXITS and self._stopping.wait(1.0):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                print("linktrack: the event writer exited; restarting it", flush=True)
                self.proc = self._start()

    def stop(self) -> None:
        """Stop the writer (it stores what it has read first) and wait for it."""
        with self._lock:
            self._stopping.set()
            proc = self.proc
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        os.close(self._write)
        os.close(self._read)


def watch_parent(stop: Callable[[], None], env: dict[str, str] | None = None) -> None:
    """Call `stop` when the supervising serve is gone (its pipe reads end-of-file)."""
    fd = (os.environ if env is None else env).get(PARENT_PIPE)
    if not fd:
        return

    def wait() -> None:
        try:
            while os.read(int(fd), 1):
                pass
        except OSError:
            pass
        stop()

    threading.Thread(target=wait, name="parent-watch", daemon=True).start()
