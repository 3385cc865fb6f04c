"""execkit for Python: persistent, structured, safe shell sessions.

The SDK drives the ``execkit`` binary's MCP server (``execkit mcp``) over
its standard input and output, one server process per session, and offers
the original execkit Python API::

    from execkit import Session, Policy

    with Session.local(policy=Policy(deny=["rm"]), timeout=30) as s:
        r = s.exec("echo hi; cd /tmp")
        print(r.stdout, r.exit_code, r.cwd)

Every command passes the policy before it runs, its output is scrubbed of
secrets, and it is journaled (``journal=`` names the journal file; by
default execkit keeps one per session under ``$XDG_STATE_HOME/execkit``).
Pure Python, standard library only, Python 3.9 or newer.
"""

import json
import os
import queue
import shutil
import subprocess
import threading
from typing import Any, Dict, List, Optional

__version__ = "0.1.0"

__all__ = [
    "Session",
    "Policy",
    "ExecResult",
    "ExeckitError",
    "PolicyViolation",
    "TransportError",
    "Unsupported",
    "BudgetError",
    "SessionUnusable",
    "Timeout",
    "ShellExited",
    "SessionPoisoned",
    "__version__",
]


class ExeckitError(Exception):
    """Every error the SDK raises is an ExeckitError."""


class PolicyViolation(ExeckitError):
    """The policy refused the command; it did not run."""


class TransportError(ExeckitError):
    """The target could not be reached or the execkit binary failed."""


class Unsupported(ExeckitError):
    """The option is not offered by this execkit."""


class BudgetError(ExeckitError):
    """The output budget cannot be applied (a bad grep pattern...)."""


class SessionUnusable(ExeckitError):
    """The session cannot run more commands."""


class Timeout(SessionUnusable):
    """The command ran past the session's timeout; the session is closed."""


class ShellExited(SessionUnusable):
    """The session's shell ended and could not be replaced."""


class SessionPoisoned(SessionUnusable):
    """The session was closed, or failed before."""


class Policy:
    """Programs that may run (``allow``: only those) and may not (``deny``).

    The execkit default tripwire (``rm -rf /``, ``mkfs``, ``curl | sh``...)
    applies under every policy.
    """

    def __init__(self, allow: Optional[List[str]] = None, deny: Optional[List[str]] = None) -> None:
        self.allow = list(allow or [])
        self.deny = list(deny or [])
        for name in self.allow + self.deny:
            if not isinstance(name, str) or not name:
                raise ValueError("policy entries are program names")

    def __repr__(self) -> str:
        return "Policy(allow=%r, deny=%r)" % (self.allow, self.deny)


class ExecResult:
    """One command's result: output redacted, without surrounding newlines."""

    __slots__ = ("command", "stdout", "stderr", "exit_code", "duration_ms", "cwd", "truncated",
                 "timed_out", "entry", "budget", "hint")

    def __init__(self, d: Dict[str, Any]) -> None:
        self.command = d.get("command", "")
        self.stdout = d.get("stdout", "")
        self.stderr = d.get("stderr", "")
        self.exit_code = int(d.get("exit_code", -1))
        self.duration_ms = int(d.get("duration_ms", 0))
        self.cwd = d.get("cwd", "")
        self.truncated = bool(d.get("truncated", False))
        self.timed_out = bool(d.get("timed_out", False))
        self.entry = d.get("entry")
        self.budget = d.get("budget")
        self.hint = d.get("hint")

    def __repr__(self) -> str:
        return "ExecResult(exit_code=%d, duration_ms=%d, cwd=%r, truncated=%s)" % (
            self.exit_code, self.duration_ms, self.cwd, self.truncated)


def _budget(tail: Optional[int], head: Optional[int], grep: Optional[str],
            max_chars: Optional[int]) -> Optional[Dict[str, Any]]:
    """The MCP budget for the original's keyword arguments."""
    for name, v in (("tail", tail), ("head", head), ("max_chars", max_chars)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise ValueError("%s must be a whole number, 0 or more" % name)
    if grep is not None and not isinstance(grep, str):
        raise ValueError("grep must be a regular expression")
    b: Dict[str, Any] = {}
    if head is not None and tail is not None:
        b["keep"] = {"mode": "head_tail", "head": head, "tail": tail}
    elif tail is not None:
        b["keep"] = {"mode": "tail", "n": tail}
    elif head is not None:
        b["keep"] = {"mode": "head", "n": head}
    if grep is not None:
        b["grep"] = {"pattern": grep}
    if max_chars is not None:
        b["max_chars"] = max_chars
    return b or None


def _binary(binary: Optional[str]) -> str:
    path = binary or os.environ.get("EXECKIT_BIN") or shutil.which("execkit")
    if not path:
        raise TransportError("the execkit binary was not found: put it on PATH, set EXECKIT_BIN, or pass binary=")
    return path


class _Server:
    """An ``execkit mcp`` process and a JSON-RPC client of it."""

    def __init__(self, argv: List[str], env: Dict[str, str]) -> None:
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=env, bufsize=0)
        except OSError as e:
            raise TransportError("cannot start %s: %s" % (argv[0], e)) from None
        self.msgs: "queue.Queue[Optional[dict]]" = queue.Queue()
        self.stderr: List[str] = []
        self.next_id = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "execkit-python", "version": __version__}}, 60)
        self.notify("notifications/initialized")

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.msgs.put(json.loads(line))
            except ValueError:
                continue
        self.msgs.put(None)

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.decode("utf-8", "replace").rstrip("\n"))
            del self.stderr[:-20]

    def _send(self, msg: dict) -> None:
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except (OSError, ValueError):
            raise TransportError("execkit ended: %s" % self.why()) from None

    def why(self) -> str:
        return "; ".join(self.stderr[-3:]) or "no message"

    def notify(self, method: str, params: Optional[dict] = None) -> None:
        msg: Dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self._send(msg)

    def request(self, method: str, params: dict, timeout: float) -> dict:
        with self.lock:
            self.next_id += 1
            rid = self.next_id
            self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
            while True:
                try:
                    msg = self.msgs.get(timeout=timeout)
                except queue.Empty:
                    raise TransportError("execkit did not answer %s within %.0f s" % (method, timeout)) from None
                if msg is None:
                    self.msgs.put(None)
                    raise TransportError("execkit ended: %s" % self.why())
                if msg.get("id") != rid:
                    continue  # a notification: command transcripts, progress
                if "error" in msg:
                    raise ExeckitError("%s: %s" % (method, msg["error"].get("message")))
                return msg.get("result") or {}

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _text(result: dict) -> str:
    for c in result.get("content") or []:
        if c.get("type") == "text":
            return c.get("text", "")
    return ""


class Session:
    """A persistent shell: ``cd``, variables and functions persist between
    ``exec`` calls. Open one with ``Session.local()``, ``Session.ssh()`` or
    ``Session.docker()``; close it with ``close()`` or a ``with`` block."""

    def __init__(self, _create: Dict[str, Any], *, _flags: List[str], _env: Dict[str, str],
                 policy: Optional[Policy], timeout: Optional[float], max_output_bytes: Optional[int],
                 tail: Optional[int], head: Optional[int], grep: Optional[str], max_chars: Optional[int],
                 journal: Optional[str], binary: Optional[str]) -> None:
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise ValueError("timeout must be a positive number of seconds")
        if max_output_bytes is not None and (not isinstance(max_output_bytes, int) or max_output_bytes <= 0):
            raise ValueError("max_output_bytes must be a positive whole number")
        if policy is not None and not isinstance(policy, Policy):
            raise ValueError("policy must be a Policy")
        budget = _budget(tail, head, grep, max_chars)
        argv = [_binary(binary), "mcp", "--max-sessions", "1", "--idle-ttl", "0"] + _flags
        if journal:
            argv += ["--journal", journal]
        if policy is not None:
            for name in policy.allow:
                argv += ["--allow", name]
            for name in policy.deny:
                argv += ["--deny", name]
        self._timeout = timeout if timeout is not None else 600.0
        if timeout is not None:
            argv += ["--timeout", "%dms" % max(1, round(timeout * 1000))]
        if max_output_bytes is not None:
            argv += ["--max-output", str(max_output_bytes)]
        env = dict(os.environ)
        env.update(_env)
        self._poisoned = False
        self._srv = _Server(argv, env)
        if budget:
            _create["output_budget"] = budget
        try:
            res = self._call("session_create", _create, 120)
        except ExeckitError:
            self._srv.close()
            self._poisoned = True
            raise
        if res.get("isError"):
            self._srv.close()
            self._poisoned = True
            raise TransportError(_text(res))
        info = res.get("structuredContent") or json.loads(_text(res))
        self.session_id: str = info["session_id"]

    # The original's constructors.

    @staticmethod
    def local(*, policy: Optional[Policy] = None, timeout: Optional[float] = None,
              max_output_bytes: Optional[int] = None, tail: Optional[int] = None, head: Optional[int] = None,
              grep: Optional[str] = None, max_chars: Optional[int] = None, journal: Optional[str] = None,
              binary: Optional[str] = None) -> "Session":
        """A shell on this machine."""
        return Session({"transport": "local"}, _flags=[], _env={}, policy=policy, timeout=timeout,
                       max_output_bytes=max_output_bytes, tail=tail, head=head, grep=grep, max_chars=max_chars,
                       journal=journal, binary=binary)

    @staticmethod
    def docker(container: str, *, policy: Optional[Policy] = None, timeout: Optional[float] = None,
               max_output_bytes: Optional[int] = None, tail: Optional[int] = None, head: Optional[int] = None,
               grep: Optional[str] = None, max_chars: Optional[int] = None, journal: Optional[str] = None,
               binary: Optional[str] = None) -> "Session":
        """A shell in a running Docker container (name or ID)."""
        if not container or not isinstance(container, str):
            raise ValueError("docker needs a container name or ID")
        return Session({"transport": "docker", "container": container}, _flags=[], _env={}, policy=policy,
                       timeout=timeout, max_output_bytes=max_output_bytes, tail=tail, head=head, grep=grep,
                       max_chars=max_chars, journal=journal, binary=binary)

    @staticmethod
    def ssh(host: str, *, user: str, port: int = 22, password: Optional[str] = None,
            key_path: Optional[str] = None, key_passphrase: Optional[str] = None,
            known_hosts: Optional[str] = None, pin: Optional[str] = None,
            insecure_accept_any_host_key: bool = False, policy: Optional[Policy] = None,
            timeout: Optional[float] = None, max_output_bytes: Optional[int] = None, tail: Optional[int] = None,
            head: Optional[int] = None, grep: Optional[str] = None, max_chars: Optional[int] = None,
            journal: Optional[str] = None, binary: Optional[str] = None) -> "Session":
        """A shell on an SSH host, authenticated by password or key_path
        (one of them). The host key is checked against known_hosts (default
        ~/.ssh/known_hosts), or pinned (``pin="SHA256:..."``);
        ``insecure_accept_any_host_key`` takes any key on first sight, for
        throwaway test hosts only."""
        if not host or not user:
            raise ValueError("ssh needs a host and a user")
        if (password is None) == (key_path is None):
            raise ValueError("give one authentication method: password or key_path")
        if key_passphrase is not None:
            raise Unsupported("key_passphrase: load the key into ssh-agent instead")
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError("port must be a TCP port")
        if pin is not None and insecure_accept_any_host_key:
            raise ValueError("pin and insecure_accept_any_host_key contradict each other")
        create: Dict[str, Any] = {"transport": "ssh", "host": host, "user": user, "port": port}
        flags = ["--ssh-config", "none", "--no-agent"]
        env: Dict[str, str] = {}
        if key_path is not None:
            key = os.path.realpath(os.path.expanduser(key_path))
            flags += ["--key-dir", os.path.dirname(key)]
            create["key_path"] = os.path.basename(key)
        if password is not None:
            # By the name of a variable: never on a command line.
            env["PYEXECKIT_SSH_PASSWORD"] = password
            create["password_env"] = "PYEXECKIT_SSH_PASSWORD"
        if known_hosts is not None:
            flags += ["--known-hosts", os.path.expanduser(known_hosts)]
        if pin is not None:
            create["fingerprint"] = pin
        if insecure_accept_any_host_key:
            env["EXECKIT_MCP_INSECURE_ACCEPT_ANY_HOSTKEY"] = "1"
        return Session(create, _flags=flags, _env=env, policy=policy, timeout=timeout,
                       max_output_bytes=max_output_bytes, tail=tail, head=head, grep=grep, max_chars=max_chars,
                       journal=journal, binary=binary)

    def _call(self, tool: str, args: Dict[str, Any], timeout: float) -> dict:
        return self._srv.request("tools/call", {"name": tool, "arguments": args}, timeout)

    def exec(self, command: str, *, tail: Optional[int] = None, head: Optional[int] = None,
             grep: Optional[str] = None, max_chars: Optional[int] = None) -> ExecResult:
        """Run command and return its ExecResult. A non-zero exit code is
        data; a refused command raises PolicyViolation, one that runs past
        the timeout raises Timeout (and closes the session)."""
        if self._poisoned:
            raise SessionPoisoned("the session is closed")
        if not isinstance(command, str):
            raise ValueError("command must be a string")
        args: Dict[str, Any] = {"session_id": self.session_id, "command": command}
        budget = _budget(tail, head, grep, max_chars)
        if budget:
            args["budget"] = budget
        try:
            res = self._call("session_exec", args, self._timeout + 60)
        except TransportError:
            self._poison()
            raise
        text = _text(res)
        if res.get("isError"):
            if "blocked by operator policy" in text:
                raise PolicyViolation(text)
            if "budget" in text or "grep pattern" in text:
                raise BudgetError(text)
            if "the session is closed" in text:
                self._poison()
                raise ShellExited(text)
            raise ExeckitError(text)
        r = ExecResult(json.loads(text))
        if r.timed_out:
            self._poison()
            raise Timeout("%r ran past the timeout and was interrupted; the session is closed" % command)
        return r

    @property
    def is_poisoned(self) -> bool:
        """True once the session can run no more commands (closed, timed out)."""
        return self._poisoned

    def _poison(self) -> None:
        if not self._poisoned:
            self._poisoned = True
            try:
                self._call("session_destroy", {"session_id": self.session_id}, 30)
            except ExeckitError:
                pass
            self._srv.close()

    def close(self) -> None:
        """Close the session and everything it started. Closing twice is fine."""
        self._poison()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type: object, exc_value: object, traceback: object) -> bool:
        self.close()
        return False

    def __del__(self) -> None:
        try:
            if not self._poisoned:
                self._poisoned = True
                self._srv.close()
        except Exception:
            pass
