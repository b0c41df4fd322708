"""`make install` (mk/install.mk): a staged install (DESTDIR, PREFIX=/usr) puts every
file where the layout says, with paths that point inside the prefix and never into
DESTDIR; an install into a real prefix works from any directory (the classifier
classifies with the installed model and configuration); a reinstall keeps an edited
configuration file; `make uninstall` removes what install put there, configuration
excepted. The binaries installed are the ones under test (DAI_BIN_DIR)."""
import json
import os
import re
import stat
import subprocess

import pytest

import daitest

REPO = daitest.REPO
DAEMONS = ("ingress", "classifier", "gateway")


def make(target, **variables):
    """Run `make TARGET` in the repository with the binaries under test, which are
    taken as built (-o): install must not rebuild them with other flags."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    bins = [str(daitest.BIN_DIR / f"dispatchai-{d}") for d in DAEMONS]
    for b in bins:
        if not os.access(b, os.X_OK):
            pytest.fail(f"{b} not built")
    args = ["make", "--no-print-directory", target, f"BINDIR={daitest.BIN_DIR}"]
    args += [f"{k}={v}" for k, v in variables.items()]
    for b in bins:
        args += ["-o", b]
    r = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{' '.join(args)}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def print_config(binary, conf):
    r = subprocess.run([str(binary), "--config", str(conf), "--print-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return dict(re.findall(r"^([a-z_.]+) = (.*)$", r.stdout, re.M))


def test_staged_install_lays_out_every_file_with_paths_inside_the_prefix(tmp_path):
    stage = tmp_path / "stage"
    make("install", DESTDIR=stage, PREFIX="/usr")

    def staged(path):
        return stage / path.lstrip("/")

    for d in DAEMONS:
        binary = staged(f"/usr/bin/dispatchai-{d}")
        assert binary.stat().st_mode & 0o777 == 0o755, binary
        r = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and f"dispatchai-{d}" in r.stdout, r.stderr
        assert staged(f"/etc/dispatchai/{d}.conf").is_file()
    assert staged("/etc/dispatchai/prompt.txt").read_bytes() == \
        (REPO / "config" / "prompt.txt").read_bytes()
    assert staged("/usr/share/dispatchai/offline-model.bin").read_bytes() == \
        (REPO / "classifier" / "model" / "offline-model.bin").read_bytes()

    # The installed classifier, with the installed configuration, reads the prompt and
    # the model from the installed places (absolute paths, not relative to a checkout).
    cfg = print_config(staged("/usr/bin/dispatchai-classifier"),
                       staged("/etc/dispatchai/classifier.conf"))
    assert cfg["llm.prompt_file"] == "/etc/dispatchai/prompt.txt"
    assert cfg["offline.model"] == "/usr/share/dispatchai/offline-model.bin"

    for d in DAEMONS:
        unit = staged(f"/usr/lib/systemd/system/dispatchai-{d}.service").read_text()
        exec_start = re.search(r"^ExecStart=(\S+) --config (\S+)$", unit, re.M)
        assert exec_start.groups() == (f"/usr/bin/dispatchai-{d}", f"/etc/dispatchai/{d}.conf")
        workdir = re.search(r"^WorkingDirectory=(\S+)$", unit, re.M).group(1)
        assert workdir == "/usr/share/dispatchai" and staged(workdir).is_dir()
        env_files = re.findall(r"^EnvironmentFile=-(\S+)$", unit, re.M)
        assert env_files and all(e.startswith("/etc/dispatchai/") for e in env_files), env_files
        assert "/usr/local" not in unit

    for f in stage.rglob("*"):
        if f.is_file() and not (f.stat().st_mode & stat.S_IXUSR):
            assert str(stage) not in f.read_text(errors="replace"), f"{f} names DESTDIR"


def test_install_into_a_prefix_works_from_any_directory(tmp_path):
    prefix = tmp_path / "prefix"
    make("install", PREFIX=prefix)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    event = {"id": 7, "title": "Segfault when saving a file",
             "body": "Steps to reproduce: open, save. Traceback (most recent call last): ..."}
    r = subprocess.run([str(prefix / "bin" / "dispatchai-classifier"),
                        "--config", str(prefix / "etc" / "dispatchai" / "classifier.conf"),
                        "--classify-jsonl", "--offline"],
                       input=json.dumps(event) + "\n", cwd=elsewhere,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["source"] == "offline" and out["id"] == 7
    assert out["category"] in ("bug", "feature", "question", "enhancement", "documentation",
                               "security")


def test_reinstall_keeps_edited_configuration_and_uninstall_removes_the_rest(tmp_path):
    stage = tmp_path / "stage"
    make("install", DESTDIR=stage, PREFIX="/usr/local")
    conf = stage / "usr/local/etc/dispatchai/gateway.conf"
    conf.write_text(conf.read_text() + "\n# edited by the operator\n")
    out = make("install", DESTDIR=stage, PREFIX="/usr/local")
    assert f"keeping {conf}" in out
    assert conf.read_text().endswith("# edited by the operator\n")

    make("uninstall", DESTDIR=stage, PREFIX="/usr/local")
    left = sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file())
    assert left == [f"usr/local/etc/dispatchai/{n}" for n in
                    ("classifier.conf", "gateway.conf", "ingress.conf", "prompt.txt")]
