"""The deployment files, checked without a container engine or systemd running:
docker-compose.yml (structure, wiring, and `docker compose config` / `docker-compose config`
when one of them is installed), the Dockerfile (stages, user, health check, and that its
runtime packages provide every library the built daemons link), and config/systemd units
(`systemd-analyze verify`). Environment variable names are checked against the daemons'
own --help, so renaming one in the code fails here."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import daitest

yaml = pytest.importorskip("yaml")

REPO = daitest.REPO
DAEMONS = {"ingress": 8000, "classifier": 8001, "gateway": 8002}


def interpolate(value, env=None):
    """Compose's ${VAR:-default} / ${VAR} interpolation, enough for these checks."""
    env = env or {}

    def sub(m):
        name, op, default = m.group(1), m.group(2), m.group(3) or ""
        v = env.get(name)
        if op == ":-":
            return v if v else default
        return v or ""
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-)([^}]*))?\}", sub, str(value))


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def env_of(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return {k: interpolate(v) for k, v in env.items()}


def help_text(daemon):
    binary = daitest.BIN_DIR / f"dispatchai-{daemon}"
    if not binary.exists():
        pytest.fail(f"{binary} not built")
    r = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_compose_redpanda_one_node_dev_container_with_both_listeners(compose):
    rp = compose["services"]["redpanda"]
    assert rp["container_name"] == "dispatchai-redpanda"
    assert re.fullmatch(r"redpandadata/redpanda:v\d+\.\d+\.\d+", rp["image"]), "pin a version"
    cmd = " ".join(interpolate(c) for c in rp["command"])
    assert "--mode=dev-container" in cmd and "--smp=1" in cmd
    assert "internal://0.0.0.0:9092" in cmd and "external://0.0.0.0:19092" in cmd
    assert "internal://redpanda:9092" in cmd and "external://localhost:19092" in cmd
    ports = {interpolate(p) for p in rp["ports"]}
    assert ports == {"127.0.0.1:19092:19092", "127.0.0.1:18081:18081", "127.0.0.1:18082:18082",
                     "127.0.0.1:9644:9644"}
    assert "--schema-registry-addr=internal://0.0.0.0:8081,external://0.0.0.0:18081" in cmd
    assert "--pandaproxy-addr=internal://0.0.0.0:8082,external://0.0.0.0:18082" in cmd
    assert any(v.endswith(":/var/lib/redpanda/data") for v in rp["volumes"])
    assert "redpanda-data" in compose["volumes"]
    assert "rpk cluster health" in " ".join(rp["healthcheck"]["test"])
    # A changed host port is advertised too, or clients would be sent to the wrong port.
    moved = " ".join(interpolate(c, {"DEV_KAFKA_PORT": "29092"}) for c in rp["command"])
    assert "external://localhost:29092" in moved
    assert interpolate(rp["ports"][0], {"DEV_KAFKA_PORT": "29092"}) == "127.0.0.1:29092:19092"


def test_compose_topic_init_creates_the_topics_once_redpanda_is_healthy(compose):
    ti = compose["services"]["topic-init"]
    assert ti["container_name"] == "dispatchai-topic-init"
    assert ti["image"] == compose["services"]["redpanda"]["image"]
    assert ti["depends_on"]["redpanda"]["condition"] == "service_healthy"
    assert ti["restart"] == "no"
    mount = ti["volumes"][0].split(":")
    assert (REPO / mount[0]).resolve() == REPO / "scripts" / "kafka-tool"
    assert mount[1] in ti["entrypoint"]
    assert ti["command"][-1] == "create-topics" and "rpk" in ti["command"]
    assert "redpanda:9092" in ti["command"]


@pytest.mark.parametrize("daemon", sorted(DAEMONS))
def test_compose_daemon_service(compose, daemon):
    port = DAEMONS[daemon]
    s = compose["services"][daemon]
    assert s["container_name"] == f"dispatchai-{daemon}"
    assert s["build"]["dockerfile"] == "Dockerfile" and s["build"]["context"] == "."
    assert s["command"] == [f"dispatchai-{daemon}"]
    assert s["restart"] in ("unless-stopped", "always", "on-failure")
    assert s["depends_on"]["redpanda"]["condition"] == "service_healthy"
    assert s["depends_on"]["topic-init"]["condition"] == "service_completed_successfully"
    env = env_of(s)
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "redpanda:9092"
    port_var = f"{daemon.upper()}_PORT"
    assert env[port_var] == str(port)
    # Published on loopback only: dev defaults (public reads) stay off the network.
    assert {interpolate(p) for p in s["ports"]} == {f"127.0.0.1:{port}:{port}"}
    moved = {f"DEV_{daemon.upper()}_PORT": "18000"}
    assert interpolate(s["ports"][0], moved) == f"127.0.0.1:18000:{port}"
    hc = " ".join(s["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/ready" in hc
    wanted = {"ingress": ["GITHUB_WEBHOOK_SECRET"],
              "classifier": ["LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL"],
              "gateway": ["GATEWAY_API_TOKENS", "GATEWAY_PUBLIC_READ"]}[daemon]
    assert set(wanted) <= set(env)
    if daemon == "gateway":
        # Public reads stay the dev default, but only the dashboard's own address (as the
        # browser sees it, with a moved host port too) may open /ws from a web page.
        assert env["GATEWAY_PUBLIC_READ"] == "true"
        urls = interpolate(s["environment"]["GATEWAY_PUBLIC_URLS"], moved).split(",")
        assert urls == ["http://localhost:18000", "http://127.0.0.1:18000"]
    # Every variable compose sets must be one the daemon reads.
    text = help_text(daemon)
    for var in env:
        assert var in text, f"{daemon} --help does not mention {var}"


def test_compose_console_is_optional_on_8080(compose):
    c = compose["services"]["console"]
    assert c["profiles"] == ["console"]
    assert c["container_name"].startswith("dispatchai-")
    assert re.fullmatch(r"redpandadata/console:v\d+\.\d+\.\d+", c["image"])
    assert [interpolate(p) for p in c["ports"]] == ["127.0.0.1:8080:8080"]
    assert env_of(c)["KAFKA_BROKERS"] == "redpanda:9092"
    for name, s in compose["services"].items():
        assert s["container_name"].startswith("dispatchai-"), name
        if name != "console":
            assert "profiles" not in s, name


def compose_commands():
    cmds = []
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                 capture_output=True).returncode == 0:
        cmds.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        cmds.append(["docker-compose"])
    return cmds


def test_compose_file_validates_with_a_compose_implementation(tmp_path):
    cmds = compose_commands()
    if not cmds:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEV_", "COMPOSE_"))}
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    for cmd in cmds:
        for profile in ([], ["--profile", "console"]):
            r = subprocess.run([*cmd, "--project-directory", str(REPO), "-f",
                                str(REPO / "docker-compose.yml"), "--env-file", str(empty_env),
                                *profile, "config", "-q"],
                               capture_output=True, text=True, env=env, timeout=60)
            assert r.returncode == 0, f"{' '.join(cmd)} config: {r.stderr}"
        # and it does reject a broken file (so the check above means something)
        bad = tmp_path / "bad.yml"
        bad.write_text((REPO / "docker-compose.yml").read_text()
                       .replace("condition: service_healthy", "condition: service_happy", 1))
        r = subprocess.run([*cmd, "-f", str(bad), "--env-file", str(empty_env), "config", "-q"],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode != 0


def dockerfile_stages():
    stages, cur = [], None
    for line in re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text()).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            cur = {"from": rest.split()[0], "name": rest.split()[-1], "lines": []}
            stages.append(cur)
        elif cur is not None:
            cur["lines"].append((word.upper(), rest.strip()))
    return stages


def test_dockerfile_multistage_bookworm_non_root_with_health_check():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    assert all(re.fullmatch(r"debian:bookworm(-slim)?", s["from"]) for s in stages)
    build, run = stages[0], stages[-1]
    assert any(w == "RUN" and "make" in r for w, r in build["lines"])
    users = [r for w, r in run["lines"] if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    hc = [r for w, r in run["lines"] if w == "HEALTHCHECK"]
    assert hc and "/ready" in hc[0]
    copies = " ".join(r for w, r in run["lines"] if w == "COPY")
    for d in DAEMONS:
        assert f"/src/bin/dispatchai-{d}" in copies
    assert "/src/config/" in copies


def runtime_packages():
    run = dockerfile_stages()[-1]
    text = " ".join(r for w, r in run["lines"] if w == "RUN")
    m = re.search(r"apt-get install -y --no-install-recommends (.*?)&&", text)
    assert m, "no apt-get install in the runtime stage"
    return set(m.group(1).split())


def test_dockerfile_runtime_stage_installs_every_library_the_daemons_link():
    pkgs = runtime_packages()
    for d in DAEMONS:
        binary = daitest.BIN_DIR / f"dispatchai-{d}"
        assert binary.exists(), f"{binary} not built"
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                            subprocess.run(["readelf", "-d", str(binary)], capture_output=True,
                                           text=True, check=True).stdout)
        paths = dict(re.findall(r"^\s*(\S+) => (\S+)",
                                subprocess.run(["ldd", str(binary)], capture_output=True,
                                               text=True).stdout, re.M))
        for lib in needed:
            if re.match(r"lib(c|m|pthread|dl|rt|gcc_s|asan|ubsan)\.so", lib) or lib.startswith("ld-linux"):
                continue  # libc6 / libgcc / the sanitizers' runtimes: not in the image's list
            path = paths.get(lib)
            assert path, f"{d}: ldd does not resolve {lib}"
            owner = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True,
                                   text=True).stdout.split(":")[0]
            if not owner:  # merged /usr: dpkg may know the file under the other prefix
                alt = re.sub(r"^/usr/lib/", "/lib/", os.path.realpath(path))
                owner = subprocess.run(["dpkg", "-S", alt], capture_output=True,
                                       text=True).stdout.split(":")[0]
            assert owner in pkgs, f"{d} links {lib} from Debian package {owner!r}, not installed in the image"


@pytest.mark.parametrize("daemon", sorted(DAEMONS))
def test_systemd_unit(daemon, tmp_path):
    unit = REPO / "config" / "systemd" / f"dispatchai-{daemon}.service"
    text = unit.read_text()
    exec_start = re.search(r"^ExecStart=(\S+)", text, re.M).group(1)
    assert exec_start.endswith(f"/dispatchai-{daemon}")
    assert re.search(r"^User=dispatchai$", text, re.M)
    assert re.search(r"^Restart=on-failure$", text, re.M)
    assert re.search(r"^KillSignal=SIGTERM$", text, re.M)
    assert "EnvironmentFile=-/usr/local/etc/dispatchai/" in text
    conf = re.search(r"--config (\S+)", text).group(1)
    assert (REPO / "config" / Path(conf).name).exists(), f"{conf} has no counterpart in config/"
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed")
    # verify checks that ExecStart exists; point it at a binary that does.
    copy = tmp_path / unit.name
    copy.write_text(text.replace(exec_start, "/bin/true"))
    r = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True,
                       timeout=60)
    complaints = [l for l in r.stderr.splitlines() if unit.name in l or "Unknown" in l]
    assert r.returncode == 0 and not complaints, r.stderr


@pytest.fixture(scope="module")
def cluster_override():
    return yaml.safe_load((REPO / "docker-compose.cluster.yml").read_text())


def test_compose_cluster_override_three_redpanda_nodes(compose, cluster_override):
    """docker-compose.cluster.yml: two more Redpanda nodes join the base file's node, topics get
    three replicas, and everything waits for and connects to all three."""
    over = cluster_override["services"]
    base = compose["services"]["redpanda"]
    host_ports = {"19092"}
    for name in ("redpanda-2", "redpanda-3"):
        s = over[name]
        assert s["image"] == base["image"], "every node runs the same Redpanda"
        cmd = " ".join(s["command"])
        assert "--seeds=redpanda:33145" in cmd, "a joining node finds the cluster by its RPC address"
        assert f"--rpc-addr={name}:33145" in cmd and f"--advertise-rpc-addr={name}:33145" in cmd
        assert f"internal://{name}:9092" in cmd
        ext = re.search(r"external://localhost:(\d+)", cmd).group(1)
        assert f"external://0.0.0.0:{ext}" in cmd and s["ports"] == [f"127.0.0.1:{ext}:{ext}"]
        host_ports.add(ext)
        assert s["depends_on"]["redpanda"]["condition"] == "service_healthy"
        assert "rpk cluster health" in " ".join(s["healthcheck"]["test"])
        vol = s["volumes"][0].split(":")[0]
        assert vol in cluster_override["volumes"]
    assert len(host_ports) == 3, "each node has its own host port"
    ti = over["topic-init"]
    assert ti["environment"]["KAFKA_TOPIC_REPLICATION"] == "3"
    script = " ".join(ti["command"])
    assert "default_topic_replications 3" in script and "internal_topic_replication_factor 3" in script
    assert "redpanda:9092,redpanda-2:9092,redpanda-3:9092" in script and "create-topics" in script
    for name in ("topic-init", "ingress", "classifier", "gateway"):
        deps = over[name]["depends_on"]
        assert {"redpanda-2", "redpanda-3"} <= set(deps), name
        assert all(d["condition"] == "service_healthy" for d in deps.values())
    for daemon in DAEMONS:
        boot = over[daemon]["environment"]["KAFKA_BOOTSTRAP_SERVERS"]
        assert boot.split(",") == ["redpanda:9092", "redpanda-2:9092", "redpanda-3:9092"]
        assert daemon in compose["services"], "the override only changes services of the base file"


def test_compose_cluster_override_merges_with_a_compose_implementation(tmp_path):
    cmds = compose_commands()
    if not cmds:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEV_", "COMPOSE_"))}
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    for cmd in cmds:
        r = subprocess.run([*cmd, "--project-directory", str(REPO), "-f",
                            str(REPO / "docker-compose.yml"), "-f",
                            str(REPO / "docker-compose.cluster.yml"), "--env-file",
                            str(empty_env), "config"],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0, f"{' '.join(cmd)} config: {r.stderr}"
        merged = yaml.safe_load(r.stdout)["services"]
        assert {"redpanda", "redpanda-2", "redpanda-3"} <= set(merged)
        for daemon in DAEMONS:
            boot = merged[daemon]["environment"]["KAFKA_BOOTSTRAP_SERVERS"]
            assert boot == "redpanda:9092,redpanda-2:9092,redpanda-3:9092", (daemon, boot)
            deps = merged[daemon]["depends_on"]
            assert {"redpanda", "redpanda-2", "redpanda-3", "topic-init"} <= set(deps)
