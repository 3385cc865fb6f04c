"""The SDK over the local transport, against the real execkit binary.

EXECKIT_BIN names the binary (the Go test that runs these sets it).
"""
import os
import tempfile
import unittest

import execkit
from execkit import (
    BudgetError,
    ExecResult,
    ExeckitError,
    Policy,
    PolicyViolation,
    Session,
    SessionPoisoned,
    SessionUnusable,
    Timeout,
)


class LocalTest(unittest.TestCase):
    def test_version(self):
        self.assertIsInstance(execkit.__version__, str)
        self.assertGreaterEqual(execkit.__version__.count("."), 2)

    def test_split_streams_exit_code_and_cwd_persist(self):
        with Session.local() as s:
            r = s.exec("echo OUT; echo ERR 1>&2; cd /tmp; false")
            self.assertIsInstance(r, ExecResult)
            self.assertEqual(r.stdout, "OUT")
            self.assertEqual(r.stderr, "ERR")
            self.assertEqual(r.exit_code, 1)
            self.assertEqual(r.cwd, "/tmp")
            self.assertGreaterEqual(r.duration_ms, 0)
            self.assertIs(r.truncated, False)
            self.assertEqual(s.exec("pwd").stdout, "/tmp")
            s.exec("export GREETING=hello; f() { echo fn-$1; }")
            self.assertEqual(s.exec("echo $GREETING; f x").stdout, "hello\nfn-x")

    def test_repr_summarises(self):
        with Session.local() as s:
            text = repr(s.exec("echo hello"))
            self.assertTrue(text.startswith("ExecResult("))
            self.assertIn("exit_code=0", text)
            self.assertNotIn("hello", text)

    def test_redaction(self):
        with Session.local() as s:
            r = s.exec("echo k=AKIAIOSFODNN7EXAMPLE; echo ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8" + " >&2")
            self.assertIn("[REDACTED]", r.stdout)
            self.assertNotIn("AKIA", r.stdout)
            self.assertNotIn("a1B2c3D4e5F6", r.stderr)

    def test_policy_violation(self):
        d = tempfile.mkdtemp()
        victim = os.path.join(d, "keep")
        open(victim, "w").close()
        with Session.local(policy=Policy(deny=["rm"])) as s:
            with self.assertRaises(PolicyViolation) as cm:
                s.exec("rm -rf " + d)
            self.assertIsInstance(cm.exception, ExeckitError)
            self.assertTrue(os.path.exists(victim), "a refused command ran")
            # Refused through a wrapper too: the policy reads the parsed command.
            with self.assertRaises(PolicyViolation):
                s.exec("sudo -n rm " + victim)
            self.assertEqual(s.exec("echo still-usable").stdout, "still-usable")
        with Session.local(policy=Policy(allow=["echo"])) as s:
            self.assertEqual(s.exec("echo ok").stdout, "ok")
            with self.assertRaises(PolicyViolation):
                s.exec("ls /")

    def test_default_tripwire(self):
        with Session.local() as s:
            with self.assertRaises(PolicyViolation):
                s.exec("rm -rf /")

    def test_budget_keywords(self):
        with Session.local() as s:
            r = s.exec("for i in $(seq 1 100); do echo line$i; done", tail=3)
            self.assertEqual(r.stdout.splitlines()[-3:], ["line98", "line99", "line100"])
            self.assertIs(r.truncated, True)
            self.assertEqual(r.budget["stdout"]["lines_total"], 100)
            r = s.exec("for i in $(seq 1 100); do echo line$i; done", head=2)
            self.assertEqual(r.stdout.splitlines()[:2], ["line1", "line2"])
            r = s.exec("echo apple; echo banana; echo ERROR boom; echo cherry", grep="ERROR")
            self.assertIn("ERROR boom", r.stdout)
            self.assertNotIn("apple", r.stdout)
            r = s.exec("printf '%0200d' 0", max_chars=20)
            self.assertLess(len(r.stdout), 80)
            with self.assertRaises(BudgetError):
                s.exec("echo hi", grep="(")
            with self.assertRaises(ValueError):
                s.exec("echo hi", tail=-1)

    def test_session_default_budget(self):
        with Session.local(tail=1) as s:
            self.assertTrue(s.exec("echo a; echo b").stdout.endswith("b"))
            self.assertNotIn("a\n", s.exec("echo a; echo b").stdout)

    def test_timeout_raises_and_poisons(self):
        with Session.local(timeout=1.0) as s:
            self.assertIs(s.is_poisoned, False)
            with self.assertRaises(Timeout) as cm:
                s.exec("sleep 30")
            self.assertIsInstance(cm.exception, SessionUnusable)
            self.assertIsInstance(cm.exception, ExeckitError)
            self.assertIs(s.is_poisoned, True)
            with self.assertRaises(SessionPoisoned):
                s.exec("echo nope")

    def test_context_manager_closes(self):
        s = Session.local()
        self.assertEqual(s.exec("echo hi").stdout, "hi")
        s.__exit__(None, None, None)
        with self.assertRaises(ExeckitError):
            s.exec("echo nope")

    def test_close_is_idempotent(self):
        s = Session.local()
        s.close()
        s.close()
        self.assertIs(s.is_poisoned, True)

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            Session.local(timeout=-1.0)
        with self.assertRaises(ValueError):
            Session.local(timeout=0)
        with self.assertRaises(ValueError):
            Session.local(max_output_bytes=0)
        with self.assertRaises(ValueError):
            Policy(deny=[""])
        with self.assertRaises(ValueError):
            Session.docker("")

    def test_missing_binary(self):
        with self.assertRaises(execkit.TransportError):
            Session.local(binary=os.path.join(tempfile.mkdtemp(), "no-execkit"))

    def test_journal(self):
        path = os.path.join(tempfile.mkdtemp(), "run.db")
        with Session.local(journal=path) as s:
            r = s.exec("echo journaled")
            self.assertIsNotNone(r.entry)
        self.assertTrue(os.path.getsize(path) > 0)


if __name__ == "__main__":
    unittest.main()
