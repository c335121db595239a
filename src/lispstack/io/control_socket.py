"""The per-node control socket: newline-delimited JSON over a unix stream socket.

request:  {"topic": "map-cache", "arg": "192.168.2.1"}
answer:   {"ok": true, "result": [...]}   or   {"ok": false, "error": "..."}
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import inspect
import json
import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_REQUEST_BYTES = 4096
MAX_PATH_BYTES = 107
"""sun_path holds 108 bytes with the terminating NUL (Linux)."""
DEFAULT_DIRECTORY = Path("/run/lispstack")

Answer = Callable[[str, str | None], object | None]


def socket_path(node_name: str) -> Path:
    return DEFAULT_DIRECTORY / f"{node_name}.sock"


class ControlServer:
    """Serves `show` requests; a bad request gets an error answer, never hurts the node."""

    def __init__(self, path: Path, answer: Answer) -> None:
        self.path = path
        self._answer = answer
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Listen on `path`; a socket file a dead node left there is replaced, a live
        node's is not (OSError EADDRINUSE). Any other OSError names the path and what to
        do about it."""
        if listening(self.path):
            raise OSError(errno.EADDRINUSE, f"a node is already listening on {self.path}")
        try:
            await self._listen()
        except OSError as error:
            raise OSError(error.errno, cannot_create(self.path, error)) from None

    async def _listen(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(self.path)
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.path), limit=MAX_REQUEST_BYTES
        )
        os.chmod(self.path, 0o660)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=5)
            writer.write(json.dumps(await self._reply(line)).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ValueError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _reply(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            topic = request["topic"]
            arg = request.get("arg")
            if not isinstance(topic, str) or not (arg is None or isinstance(arg, str)):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": 'expected {"topic": TOPIC, "arg": ARG-or-null}'}
        try:
            result = self._answer(topic, arg)
            if inspect.isawaitable(result):  # e.g. statistics gathered from other workers
                result = await result
        except RequestRefused as refused:
            return {"ok": False, "error": str(refused)}
        except ValueError as error:  # an argument the topic cannot use (EID, prefix)
            return {"ok": False, "error": f"{topic} {arg}: {error}"}
        if result is None:
            return {"ok": False, "error": f"this node does not serve '{topic}'"}
        return {"ok": True, "result": result}


class RequestRefused(Exception):
    """The node will not do what was asked (e.g. a reload of a broken config): the
    one-line reason goes back as the answer's error."""


def cannot_create(path: Path, error: OSError) -> str:
    """`control socket PATH: cannot create it (why); choose another path ...`: one line."""
    if isinstance(error, FileExistsError):  # from mkdir: something that is not a directory
        why = f"{error.filename} is not a directory"
    elif len(bytes(path)) > MAX_PATH_BYTES:
        why = (
            f"a unix socket path holds at most {MAX_PATH_BYTES} bytes, this one {len(bytes(path))}"
        )
    else:
        why = error.strerror or str(error)
        if error.filename and error.filename != str(path):
            why = f"{error.filename}: {why}"
    return (
        f"control socket {path}: cannot create it ({why}); choose another path: "
        "--control-socket PATH, or control-socket in [node]"
    )


def listening(path: Path) -> bool:
    """Whether a process accepts connections on the unix socket `path` (connect and close)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:  # absent, refused (nobody listens), not a socket...
            return False
    return True


def remove_stale(path: Path) -> bool:
    """Remove `path` if it is a socket nobody listens on; whether it was removed."""
    try:
        if not stat.S_ISSOCK(path.lstat().st_mode) or listening(path):
            return False
        path.unlink()
    except FileNotFoundError:
        return False
    return True


class ControlError(Exception):
    """The node could not be asked (not running, or it answered with an error)."""


def ask(path: Path, topic: str, arg: str | None, timeout: float = 5.0) -> object:
    """Ask a running node; raises ControlError with a one-line reason."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        try:
            client.connect(str(path))
            client.sendall(json.dumps({"topic": topic, "arg": arg}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = client.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (FileNotFoundError, ConnectionRefusedError):
            raise ControlError(f"no node is listening on {path}") from None
        except OSError as error:
            raise ControlError(f"{path}: {error.strerror or error}") from None
    try:
        answer = json.loads(data)
    except ValueError:
        raise ControlError(f"{path}: garbled answer") from None
    if not answer.get("ok"):
        raise ControlError(str(answer.get("error", "unknown error")))
    return answer["result"]
