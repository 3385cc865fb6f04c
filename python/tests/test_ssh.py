"""The SDK over SSH. The argument checks run everywhere; the live tests
need EXECKIT_TEST_SSH_HOST, _PORT, _USER, _KEY, _KNOWN_HOSTS and
_FINGERPRINT, which the Go test that runs these sets from its own sshd."""
import os
import unittest

from execkit import ExeckitError, Session, TransportError, Unsupported


def live():
    need = ["HOST", "PORT", "USER", "KEY", "KNOWN_HOSTS", "FINGERPRINT"]
    if not all(os.environ.get("EXECKIT_TEST_SSH_" + k) for k in need):
        raise unittest.SkipTest("no test sshd (EXECKIT_TEST_SSH_*)")
    e = {k.lower(): os.environ["EXECKIT_TEST_SSH_" + k] for k in need}
    e["port"] = int(e["port"])
    return e


class SSHArgumentsTest(unittest.TestCase):
    def test_requires_an_auth_method(self):
        with self.assertRaises(ValueError):
            Session.ssh("host", user="u")

    def test_rejects_two_auth_methods(self):
        with self.assertRaises(ValueError):
            Session.ssh("host", user="u", password="p", key_path="/some/key")

    def test_passphrase_unsupported(self):
        with self.assertRaises(Unsupported):
            Session.ssh("host", user="u", key_path="/k", key_passphrase="x")

    def test_bad_port(self):
        with self.assertRaises(ValueError):
            Session.ssh("host", user="u", password="p", port=70000)


class SSHLiveTest(unittest.TestCase):
    def test_known_hosts_exec_and_state(self):
        e = live()
        with Session.ssh(e["host"], user=e["user"], port=e["port"], key_path=e["key"],
                         known_hosts=e["known_hosts"]) as s:
            r = s.exec("echo OUT; echo ERR 1>&2; cd /tmp; true")
            self.assertEqual(r.exit_code, 0)
            self.assertEqual(r.stdout, "OUT")
            self.assertEqual(r.stderr, "ERR")
            self.assertEqual(r.cwd, "/tmp")
            self.assertEqual(s.exec("pwd").stdout, "/tmp")

    def test_pinned_fingerprint(self):
        e = live()
        with Session.ssh(e["host"], user=e["user"], port=e["port"], key_path=e["key"],
                         pin=e["fingerprint"]) as s:
            self.assertEqual(s.exec("echo pinned").stdout, "pinned")
        with self.assertRaises(ExeckitError):
            Session.ssh(e["host"], user=e["user"], port=e["port"], key_path=e["key"],
                        pin="SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU")

    def test_insecure_accept_any_host_key(self):
        e = live()
        with Session.ssh(e["host"], user=e["user"], port=e["port"], key_path=e["key"],
                         insecure_accept_any_host_key=True) as s:
            self.assertEqual(s.exec("echo any").stdout, "any")

    def test_unknown_host_key_refused(self):
        e = live()
        empty = os.path.join(os.path.dirname(e["known_hosts"]), "empty_known_hosts")
        open(empty, "w").close()
        with self.assertRaises(TransportError):
            Session.ssh(e["host"], user=e["user"], port=e["port"], key_path=e["key"], known_hosts=empty)


if __name__ == "__main__":
    unittest.main()
