//! One control-plane process. Owns: starting a binary with its output in a log file, telling
//! whether it still runs (with the log tail when it does not), and killing and reaping it.
//! Must not: leave a process unreaped (a zombie holds its pid) or keep a port after `stop`.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How much of a log an error shows.
const TAIL_LINES: usize = 40;
const TAIL_BYTES: u64 = 16 * 1024;
/// How often readiness is probed: start-up time is what tests wait for, so poll briskly.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// A running child with its log. `std::process` rather than tokio's: the shared control plane
/// outlives the per-test runtimes, and tokio children are tied to the runtime that spawned them.
#[derive(Debug)]
pub(crate) struct Supervised {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Supervised {
    /// Starts `bin args…` with stdin closed and stdout+stderr appended to `log`.
    pub(crate) fn spawn(
        name: &'static str,
        bin: &Path,
        args: &[String],
        log: PathBuf,
    ) -> Result<Self> {
        Self::spawn_with_env(name, bin, args, &[], log)
    }

    /// Like [`Supervised::spawn`], with extra environment variables.
    pub(crate) fn spawn_with_env(
        name: &'static str,
        bin: &Path,
        args: &[String],
        env: &[(String, String)],
        log: PathBuf,
    ) -> Result<Self> {
        let context = || format!("starting {name} ({})", bin.display());
        let out =
            File::create(&log).map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        let err = out.try_clone().map_err(|e| Error::io(context(), e))?;
        let child = Command::new(bin)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| Error::io(context(), e))?;
        tracing::debug!(name, pid = child.id(), log = %log.display(), "started");
        Ok(Supervised { name, child, log })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    /// `Ok` while the process runs; once it has exited, an error with its status and log tail.
    pub(crate) fn ensure_running(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(Error::ProcessExited {
                name: self.name.to_owned(),
                status,
                log: self.log.clone(),
                tail: log_tail(&self.log),
            }),
            Err(e) => Err(Error::io(format!("checking on {}", self.name), e)),
        }
    }

    /// Sends SIGTERM and waits up to `grace` for the process to exit by itself; then kills it.
    /// Returns the exit status when it exited on its own.
    pub(crate) fn terminate(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        while started.elapsed() < grace {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        None
    }

    /// Kills the process and waits until it is gone, so its pid and ports are released when this
    /// returns. SIGKILL, not SIGTERM: the data directory is thrown away right after, so a graceful
    /// shutdown would only cost seconds per test.
    pub(crate) fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        if let Err(e) = self.child.kill() {
            tracing::warn!(name = self.name, pid = self.child.id(), error = %e, "kill failed");
        }
        if let Err(e) = self.child.wait() {
            tracing::warn!(name = self.name, pid = self.child.id(), error = %e, "wait failed");
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `probe` every `interval` until it succeeds, the process exits (an error with its log
/// tail) or `timeout` passes (an error with the probe's last failure and the log tail).
pub(crate) async fn wait_ready(
    process: &mut Supervised,
    timeout: Duration,
    mut probe: impl AsyncFnMut() -> std::result::Result<(), String>,
) -> Result<Duration> {
    let started = Instant::now();
    let mut last_error = "not probed yet".to_owned();
    while started.elapsed() < timeout {
        process.ensure_running()?;
        match probe().await {
            Ok(()) => return Ok(started.elapsed()),
            Err(e) => last_error = e,
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
    process.ensure_running()?;
    Err(Error::NotReady {
        name: process.name.to_owned(),
        waited: timeout,
        last_error,
        log: process.log.clone(),
        tail: log_tail(&process.log),
    })
}

/// The last lines of a log file (at most [`TAIL_LINES`] lines from its last [`TAIL_BYTES`]).
pub(crate) fn log_tail(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else {
        return format!("({} could not be opened)", path.display());
    };
    let len = file.metadata().map_or(0, |m| m.len());
    if file
        .seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))
        .is_err()
    {
        return format!("({} could not be read)", path.display());
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return format!("({} could not be read)", path.display());
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(TAIL_LINES);
    let tail = lines[start..].join("\n");
    if tail.is_empty() {
        "(empty log)".to_owned()
    } else {
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        let text = (0..100)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&log, text).unwrap();
        let tail = log_tail(&log);
        assert!(tail.starts_with("line 60\n"), "{tail}");
        assert!(tail.ends_with("line 99"), "{tail}");
    }

    #[test]
    fn an_exited_process_reports_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let args = vec!["-c".to_owned(), "echo boom >&2; exit 3".to_owned()];
        let mut p = Supervised::spawn("sh", Path::new("/bin/sh"), &args, dir.path().join("sh.log"))
            .unwrap();
        let err = loop {
            match p.ensure_running() {
                Ok(()) => std::thread::sleep(std::time::Duration::from_millis(10)),
                Err(e) => break e.to_string(),
            }
        };
        assert!(
            err.contains("exit status: 3") && err.contains("boom"),
            "{err}"
        );
    }

    #[test]
    fn stop_kills_and_reaps() {
        let dir = tempfile::tempdir().unwrap();
        let args = vec!["60".to_owned()];
        let mut p = Supervised::spawn(
            "sleep",
            Path::new("/bin/sleep"),
            &args,
            dir.path().join("s.log"),
        )
        .unwrap();
        let pid = p.pid();
        p.stop();
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} is still there"
        );
    }
}
