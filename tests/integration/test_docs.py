"""The docs stay true to the code: the configuration reference is what the
daemons' option tables say, every config file the repo ships loads, and the
module map in docs/architecture.md names exactly the C files that exist."""
import re
import subprocess

import daitest


def test_configuration_reference_matches_option_tables():
    r = subprocess.run([str(daitest.REPO / "scripts" / "gen-config-docs"), "--check",
                        "--bin-dir", str(daitest.BIN_DIR)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_shipped_config_files_load():
    for d in ("ingress", "classifier", "gateway"):
        r = subprocess.run([str(daitest.BIN_DIR / f"dispatchai-{d}"), "--config",
                            str(daitest.REPO / "config" / f"{d}.conf"), "--print-config"],
                           capture_output=True, text=True, timeout=30,
                           env={"PATH": "/usr/bin:/bin", "GITHUB_WEBHOOK_SECRET": "x" * 16})
        assert r.returncode == 0, f"{d}: {r.stderr}"
        assert "kafka.bootstrap_servers" in r.stdout


def test_invalid_config_names_key_and_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("kafka = {\n  topic_partitions = 0;\n};\n")
    for d in ("ingress", "classifier", "gateway"):
        r = subprocess.run([str(daitest.BIN_DIR / f"dispatchai-{d}"), "--config", str(conf)],
                           capture_output=True, text=True, timeout=30,
                           env={"PATH": "/usr/bin:/bin", "GITHUB_WEBHOOK_SECRET": "x" * 16})
        assert r.returncode != 0
        assert f"{conf}:2" in r.stderr and "kafka.topic_partitions" in r.stderr, r.stderr


def test_help_and_version():
    for d in ("ingress", "classifier", "gateway"):
        exe = str(daitest.BIN_DIR / f"dispatchai-{d}")
        r = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and r.stdout.startswith(f"dispatchai-{d} "), r.stdout
        r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and "--kafka.bootstrap_servers" in r.stdout


def module_map():
    """The C files named in docs/architecture.md's "Where things live": the
    repository paths in backticks on its table rows, in order."""
    text = (daitest.REPO / "docs" / "architecture.md").read_text()
    m = re.search(r"^## Where things live\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, 'docs/architecture.md has no "## Where things live" section'
    return [name for line in m.group(1).splitlines() if line.startswith("|")
            for name in re.findall(r"`([\w./-]+\.c)`", line)]


def test_module_map_names_every_source_file_once():
    named = module_map()
    repeated = sorted({n for n in named if named.count(n) > 1})
    assert not repeated, f"named more than once in the module map: {repeated}"
    missing = [n for n in named if not (daitest.REPO / n).is_file()]
    assert not missing, f"the module map names files that do not exist: {missing}"
    sources = sorted(str(p.relative_to(daitest.REPO))
                     for d in ("common", "ingress", "classifier", "gateway")
                     for p in (daitest.REPO / d).rglob("*.c")
                     if "tests" not in p.relative_to(daitest.REPO).parts)
    unnamed = [s for s in sources if s not in named]
    assert not unnamed, ("source files missing from docs/architecture.md, "
                         f"\"Where things live\": {unnamed}")
