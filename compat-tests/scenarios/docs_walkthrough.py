"""docs/security.md's walkthrough, followed step by step (scenario docs/security_walkthrough).

Every fenced block whose info string has the word `walkthrough` is a step, run in order in an
empty directory (this scenario's scratch dir):
  ```sh walkthrough [background wait=HOST:PORT] [expect-fail] [needs=F,G]```
      bash -euo pipefail; `background`: started and left running (stopped at the end, by pid)
      until `wait` answers ApiVersions; `expect-fail`: must exit non-zero; else must exit 0
  ```python walkthrough```                       run with this suite's Python; must exit 0
  ```properties walkthrough file=NAME [append]``` written (or appended) to NAME
  ```text walkthrough output```                  every line must appear in the previous step's
                                                   stdout+stderr
  `needs=F,...` skips the block (and reports why) unless the binary has feature F:
  user-cli / acl / quota-cli (`skua --help` lists `user` / `acl` / `quota`), command-config
  (`skua topic list --help` offers --command-config). A skipped step's output block is skipped too.
The binary (SKUA_BIN) is on PATH as `skua`; `cargo run --release --` runs it instead; the
ports 9092, 9093, 9094 become free ports. The scenario passes when every step that ran did what
the document says; it lists the skipped steps on stderr.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

from common import Fail, check, main, COMPAT_DIR, scratch, env
import rawproto

DOC = os.path.join(os.path.dirname(COMPAT_DIR), "docs", "security.md")
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.S | re.M)


def blocks(text):
    """[(lang, opts dict, body, line)] of the walkthrough blocks."""
    out = []
    for m in FENCE.finditer(text):
        words = m.group(2).split()
        if "walkthrough" not in words:
            continue
        opts = {}
        for w in words:
            k, _, v = w.partition("=")
            opts[k] = v if v else True
        out.append((m.group(1), opts, m.group(3), text[:m.start()].count("\n") + 1))
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def features(binary):
    top = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30).stdout
    cmds = {l.split()[0] for l in top.splitlines() if l.startswith("  ") and l.split()}
    tl = subprocess.run([binary, "topic", "list", "--help"], capture_output=True, text=True, timeout=30).stdout
    return {"user-cli": "user" in cmds, "acl": "acl" in cmds, "quota-cli": "quota" in cmds,
            "command-config": "--command-config" in tl}


def walkthrough():
    binary = env("SKUA_BIN")
    work = os.path.join(scratch(), "walkthrough")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "bin"))
    os.symlink(binary, os.path.join(work, "bin", "skua"))
    have = features(binary)
    ports = {p: str(free_port()) for p in ("9092", "9093", "9094")}
    run_env = dict(os.environ, PATH=os.path.join(work, "bin") + os.pathsep + os.environ["PATH"])
    # the broker's default metrics port could collide with the suite's other brokers
    started = []
    last_output = None
    ran = skipped = 0
    with open(DOC) as f:
        steps = blocks(f.read())
    check(len(steps) >= 20, f"docs/security.md has only {len(steps)} walkthrough blocks")

    def subst(s):
        for old, new in ports.items():
            s = re.sub(rf"(?<=:){old}\b", new, s)
        return s.replace("cargo run --release --", "skua")

    try:
        for lang, opts, body, line in steps:
            where = f"docs/security.md:{line} ({lang} block)"
            needs = [n for n in str(opts.get("needs", "")).split(",") if n]
            missing = [n for n in needs if not have.get(n, False)]
            if missing:
                print(f"# skipped {where}: the binary lacks {', '.join(missing)}", file=sys.stderr)
                skipped += 1
                last_output = None
                continue
            body = subst(body)
            if lang == "properties":
                with open(os.path.join(work, opts["file"]), "a" if opts.get("append") else "w") as f:
                    f.write(body)
            elif lang == "text" and opts.get("output"):
                check(last_output is not None, f"{where}: an output block without a step before it")
                for want in body.splitlines():
                    if want.strip():
                        check(want in last_output, f"{where}: expected the line {want!r} in the output of the step "
                                                   f"before; got: {last_output[-800:]!r}")
            elif lang == "sh" and opts.get("background"):
                cmd = body.strip().replace("\\\n", " ")
                # Beside the suite's brokers: no default HTTP port.
                cmd += " --metrics-listen off --console-listen off --schema-registry-listen off --rest-proxy-listen off"
                log = open(os.path.join(work, "broker.log"), "w")
                proc = subprocess.Popen(["bash", "-c", "exec " + cmd], cwd=work, env=run_env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
                started.append(proc)
                addr = subst(opts["wait"]).replace("localhost", "127.0.0.1")
                deadline = time.monotonic() + 30
                while not rawproto.api_versions_ok(addr, timeout=1.0):
                    if proc.poll() is not None:
                        raise Fail(f"{where}: `{cmd}` exited with {proc.returncode}: "
                                   f"{open(os.path.join(work, 'broker.log')).read()[-800:]}")
                    check(time.monotonic() < deadline, f"{where}: {addr} did not answer within 30 s")
                    time.sleep(0.2)
                last_output = None
            elif lang in ("sh", "python"):
                argv = ["bash", "-euo", "pipefail", "-c", body] if lang == "sh" else [sys.executable, "-c", body]
                p = subprocess.run(argv, cwd=work, env=run_env, capture_output=True, text=True, timeout=60)
                last_output = p.stdout + p.stderr
                if opts.get("expect-fail"):
                    check(p.returncode != 0, f"{where}: expected to fail, exited 0: {last_output[-600:]!r}")
                else:
                    check(p.returncode == 0, f"{where}: exit code {p.returncode}: {last_output[-800:]!r}")
            else:
                raise Fail(f"{where}: unknown walkthrough block kind {lang}")
            ran += 1
    finally:
        for proc in started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    for proc in started:
        check(proc.returncode == 0, f"the walkthrough's broker exited with {proc.returncode} on SIGTERM")
    print(f"# walkthrough: {ran} steps ran, {skipped} skipped (features: {have})", file=sys.stderr)


SCENARIOS = {"security_walkthrough": walkthrough}

if __name__ == "__main__":
    main(SCENARIOS)
