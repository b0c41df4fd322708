"""The docs stay true to the code: the configuration reference is what the
daemons' option tables say, and every config file the repo ships loads."""
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
