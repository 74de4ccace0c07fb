//! The reaper of last resort. Owns: making sure etcd and kube-apiserver die, and their
//! directory goes, when the test process dies without running `Drop` — a SIGKILLed or aborted
//! run, or the per-binary shared control plane, which lives in a `static` and is never dropped.
//! Must not: kill anything that is not ours (it checks each pid's command line for our
//! directory first), or outlive a clean shutdown (`disarm` ends it).
//!
//! How: a `/bin/sh` child whose stdin is a pipe only this process holds the write end of.
//! `pid N` lines register processes; `disarm` ends it quietly. End of file — which the kernel
//! delivers when this process exits, however it exits — means we are gone: it kills what it
//! was told about and removes the directory. The workspace forbids `unsafe`, so
//! `prctl(PR_SET_PDEATHSIG)` in a `pre_exec` hook is not an option; this needs none.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::error::{Error, Result};

const SCRIPT: &str = r#"
trap '' INT HUP
dir=$1
pids=
while read -r word pid; do
  case $word in
    pid) pids="$pid $pids" ;;
    disarm) exit 0 ;;
  esac
done
for p in $pids; do
  cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
  case $cmd in *"$dir"*) kill -KILL "$p" 2>/dev/null ;; esac
done
rm -rf "$dir"
"#;

#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Watchdog {
    /// Starts the watchdog for processes whose command lines mention `dir`.
    pub(crate) fn spawn(dir: &Path) -> Result<Self> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg("agw-e2e-watchdog")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C aimed at the test run must not reach it before it
            // has cleaned up after the run.
            .process_group(0)
            .spawn()
            .map_err(|e| Error::io("starting the control-plane watchdog (/bin/sh)", e))?;
        let stdin = child.stdin.take();
        Ok(Watchdog { child, stdin })
    }

    /// Registers a process to kill if this test process dies.
    pub(crate) fn watch(&mut self, pid: u32) -> Result<()> {
        let context = || format!("registering pid {pid} with the watchdog");
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(Error::io(context(), std::io::ErrorKind::BrokenPipe.into()));
        };
        writeln!(stdin, "pid {pid}")
            .and_then(|()| stdin.flush())
            .map_err(|e| Error::io(context(), e))
    }

    /// Ends the watchdog without it touching anything; the caller cleans up itself.
    pub(crate) fn disarm(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            // If the write fails the shell is already gone; either way it will not act now.
            let _ = writeln!(stdin, "disarm");
        }
        if let Err(e) = self.child.wait() {
            tracing::warn!(pid = self.child.id(), error = %e, "waiting for the watchdog failed");
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.disarm();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// A long-running process whose command line names a file in `dir`, like etcd's
    /// `--data-dir=<dir>/etcd`.
    fn follower(dir: &Path) -> Child {
        let file = dir.join("log");
        std::fs::write(&file, "").unwrap();
        Command::new("tail")
            .arg("-f")
            .arg(&file)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn wait_gone(pid: u32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            if status.is_empty() || status.contains("State:\tZ") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn end_of_file_kills_registered_processes_and_removes_the_dir() {
        let dir = tempfile::tempdir().unwrap().keep();
        let mut victim = follower(&dir);
        let mut dog = Watchdog::spawn(&dir).unwrap();
        dog.watch(victim.id()).unwrap();
        // Closing our end is what the kernel does when the test process dies.
        drop(dog.stdin.take());
        dog.child.wait().unwrap();
        assert!(wait_gone(victim.id()), "the watched process survived");
        victim.wait().unwrap();
        assert!(!dir.exists(), "{} was not removed", dir.display());
    }

    #[test]
    fn disarm_leaves_everything_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut victim = follower(dir.path());
        let mut dog = Watchdog::spawn(dir.path()).unwrap();
        dog.watch(victim.id()).unwrap();
        dog.disarm();
        assert!(
            victim.try_wait().unwrap().is_none(),
            "disarm killed the process"
        );
        assert!(dir.path().exists());
        victim.kill().unwrap();
        victim.wait().unwrap();
    }

    #[test]
    fn a_process_without_our_dir_in_its_command_line_is_spared() {
        let dir = tempfile::tempdir().unwrap().keep();
        let mut bystander = Command::new("sleep").arg("60").spawn().unwrap();
        let mut dog = Watchdog::spawn(&dir).unwrap();
        dog.watch(bystander.id()).unwrap();
        drop(dog.stdin.take());
        dog.child.wait().unwrap();
        assert!(
            bystander.try_wait().unwrap().is_none(),
            "an unrelated process was killed"
        );
        bystander.kill().unwrap();
        bystander.wait().unwrap();
    }
}
