"""The SDK in a Docker container: EXECKIT_TEST_CONTAINER names a running
container (the Go test that runs these starts one)."""
import os
import unittest

from execkit import Session, TransportError


class DockerTest(unittest.TestCase):
    def test_exec_in_container(self):
        c = os.environ.get("EXECKIT_TEST_CONTAINER")
        if not c:
            raise unittest.SkipTest("no test container (EXECKIT_TEST_CONTAINER)")
        with Session.docker(c) as s:
            r = s.exec("cd /tmp && echo in-container; echo err >&2")
            self.assertEqual(r.stdout, "in-container")
            self.assertEqual(r.stderr, "err")
            self.assertEqual(s.exec("pwd").stdout, "/tmp")

    def test_missing_container(self):
        if not os.environ.get("EXECKIT_TEST_CONTAINER"):
            raise unittest.SkipTest("no Docker engine here")
        with self.assertRaises(TransportError):
            Session.docker("no-such-container-execkit")


if __name__ == "__main__":
    unittest.main()
