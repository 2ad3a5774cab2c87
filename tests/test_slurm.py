"""The pipeline through a real SLURM scheduler (`pytest -m slurm`): a one-node cluster on localhost
(Debian's slurm-wlm and munge; every file in a temporary folder, free ports), the test profile run
with -profile test,slurm, every task submitted with sbatch, and the cluster stopped whatever the
outcome. Queue and cluster options go through the pipeline's parameters, as the README shows."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from test_pipeline_runs import LAUNCHER, SAMPLE_TASK, Run, assert_documented_layout, assert_ok, nextflow, pipeline  # noqa: F401 (fixture)

DAEMONS = ("munged", "slurmctld", "slurmd")
pytestmark = [pytest.mark.slurm, pytest.mark.slow]

if not (all(shutil.which(d) for d in DAEMONS) and shutil.which("sbatch") and LAUNCHER.exists()):
    _reason = "SLURM (slurm-wlm, munge) or the pinned Nextflow is not installed"
    if os.environ.get("LIVERANNOT_REQUIRE_SLURM"):
        raise RuntimeError(_reason)
    pytestmark.append(pytest.mark.skip(reason=_reason))

PARTITION = "liverannot"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(pidfiles: list[Path]) -> None:
    """SIGTERM each daemon, wait for it to exit (slurmctld saves its state first), else SIGKILL."""
    for pidfile in reversed(pidfiles):
        try:
            pid = int(pidfile.read_text().split()[0])
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            continue
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.2)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A one-node cluster: yields the environment (SLURM_CONF) and the job-completion log."""
    d = tmp_path_factory.mktemp("slurm")
    (d / "state").mkdir()
    (d / "spool").mkdir()
    host = socket.gethostname()
    key = d / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    mem_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.85)
    ctld_port, slurmd_port = _free_port(), _free_port()
    conf = d / "slurm.conf"
    conf.write_text(f"""ClusterName=liverannot
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={d}/munge.socket
CryptoType=crypto/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={d}/jobcomp.txt
NodeName={host} CPUs={os.cpu_count()} RealMemory={mem_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes={host} Default=NO MaxTime=INFINITE State=UP
""")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    pidfiles = [d / "munged.pid", d / "slurmctld.pid", d / "slurmd.pid"]
    try:
        subprocess.run(["munged", f"--key-file={key}", f"--socket={d}/munge.socket", f"--pid-file={d}/munged.pid",
                        f"--log-file={d}/munged.log", f"--seed-file={d}/munge.seed", "--force"], check=True, env=env)
        subprocess.run(["slurmctld", "-i"], check=True, env=env)
        subprocess.run(["slurmd"], check=True, env=env)
        for _ in range(60):
            r = subprocess.run(["sinfo", "-h", "-p", PARTITION, "-o", "%t"], capture_output=True, text=True, env=env)
            if r.stdout.strip() == "idle":
                break
            time.sleep(1)
        else:
            raise RuntimeError(f"the SLURM node did not come up: {r.stdout} {r.stderr}\n"
                               + (d / "slurmctld.log").read_text()[-2000:])
        yield env, d / "jobcomp.txt"
    finally:
        subprocess.run(["scancel", "--full", "-p", PARTITION], capture_output=True, env=env)
        _stop(pidfiles)


def test_the_test_profile_runs_through_sbatch(slurm, pipeline, tmp_path, monkeypatch):
    env, jobcomp = slurm
    monkeypatch.setenv("SLURM_CONF", env["SLURM_CONF"])
    # an option value that starts with '--' must be attached with '=' (else Nextflow reads it as
    # another parameter): as the README writes it
    run = nextflow(pipeline, tmp_path, "-profile", "test,slurm", "--slurm_queue", PARTITION,
                   "--slurm_options=--nice=10")
    assert_ok(run)
    trace = run.trace
    # at most two jobs per sample (here one: its whole chain), and two for the cohort
    assert len(trace) == 2 + 2 and {r["status"] for r in trace} == {"COMPLETED"}
    assert sorted(r["tag"] for r in run.tasks(SAMPLE_TASK)) == ["donor1", "donor2"]
    jobs = {m.group(1): m.group(0) for m in re.finditer(r"JobId=(\d+) .*", jobcomp.read_text())}
    for row in trace:
        # every task was a SLURM job: its native id is a job id that the controller completed, in
        # the partition given by --slurm_queue, with the options of --slurm_options in its wrapper
        assert row["native_id"] in jobs, row
        record = jobs[row["native_id"]]
        assert "JobState=COMPLETED" in record and f"Partition={PARTITION}" in record and "Name=nf-" in record
        wrapper = (Path(row["workdir"]) / ".command.run").read_text()
        assert f"#SBATCH -p {PARTITION}" in wrapper and "#SBATCH --nice=10" in wrapper
        assert re.search(r"#SBATCH --mem \d+M", wrapper)   # the label's memory and CPUs are asked of SLURM
        assert (f"#SBATCH -c {row['cpus']}" in wrapper) == (int(row["cpus"]) > 1)
    assert (run.outdir / "multiqc" / "multiqc_report.html").exists()
    assert_documented_layout(run, ("donor1", "donor2"))
