"""The web console (`--console-listen`) in a real browser: headless Chromium (Debian's
`chromium`) driven by playwright-core from compat-tests/node_modules, against a broker of the
scenario's own. The browser side is console_browser.mjs (its header lists the steps); this
file starts the broker and the script, and reports the script's `REASON:` line.

* `console_browser`: create a topic in the UI (a bad config edit refused with Kafka's
  INVALID_CONFIG, a good one applied), produce with `skua produce`, browse the records in
  the UI (exact offsets, keys, values, headers; newest first; a search), see a group's lag
  (committed with `skua consume --group`), reset its offsets (dry run: nothing committed;
  then applied), delete the topic; every write checked with the CLI. Screenshots of each
  page are saved in compat-tests/.work/console-screenshots/ (replaced by each run, kept
  when the run's own work directory is removed).
"""

import os
import shutil
import socket
import subprocess

from common import COMPAT_DIR, Fail, OwnBroker, env, main, scratch, topic_name

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def console_browser():
    if not os.path.exists(CHROMIUM):
        raise Fail(f"{CHROMIUM} is missing: run compat-tests/setup.sh (it installs Debian's chromium)")
    if not os.path.isdir(os.path.join(COMPAT_DIR, "node_modules", "playwright-core")):
        raise Fail("playwright-core is missing from compat-tests/node_modules: run compat-tests/setup.sh")
    node = shutil.which("node")
    if node is None:
        raise Fail("node is not on PATH")
    port = free_port()
    broker = OwnBroker("console", ["--console-listen", f"127.0.0.1:{port}"]).start()
    out_dir = os.path.join(COMPAT_DIR, ".work", "console-screenshots")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    try:
        run_env = dict(os.environ,
                       CONSOLE_URL=f"http://127.0.0.1:{port}",
                       BOOTSTRAP=broker.addr,
                       SKUA_BIN=env("SKUA_BIN"),
                       OUT_DIR=out_dir,
                       CHROMIUM=CHROMIUM,
                       TOPIC=topic_name("console"),
                       GROUP=topic_name("console-group"))
        p = subprocess.run([node, os.path.join(os.path.dirname(os.path.abspath(__file__)), "console_browser.mjs")],
                           env=run_env, capture_output=True, text=True, timeout=150)
        with open(os.path.join(scratch(), "browser.log"), "w") as f:
            f.write(p.stdout + "\n--- stderr ---\n" + p.stderr)
        if p.returncode != 0:
            reasons = [line for line in p.stdout.splitlines() if line.startswith("REASON: ")]
            raise Fail(reasons[-1][len("REASON: "):] if reasons
                       else f"the browser script exited with {p.returncode}: {p.stderr.strip()[-300:]}")
    finally:
        broker.stop()


if __name__ == "__main__":
    main({"console_browser": console_browser})
