"""Shared by the Python measurement scripts: start the release binary on a free loopback port and read its RSS."""
import contextlib, os, socket, subprocess, tempfile, time, urllib.request

API_KEY = "bench-key-0123456789abcdef"
DEFAULT_BINARY = os.path.abspath(".build/release/switchboard")

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def rss_kb(pid):
    """VmRSS of a process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

@contextlib.contextmanager
def release_server(binary, settings, cpu=None):
    """Runs `switchboard serve` with `--set` for each of `settings` (pinned to `cpu` when given) until the block ends;
    yields (process, port)."""
    port = free_port()
    args = (["taskset", "-c", str(cpu)] if cpu is not None else []) + [binary, "serve", "--port", str(port)]
    for setting in settings:
        args += ["--set", setting]
    server = subprocess.Popen(args, env=dict(os.environ, SWITCHBOARD_API_KEY=API_KEY), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, cwd=tempfile.mkdtemp())
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except Exception:
                time.sleep(0.05)
        yield server, port
    finally:
        server.terminate()
        server.wait(timeout=30)
