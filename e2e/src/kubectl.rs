//! The real `kubectl`, as a user runs it. Owns: running the kubectl binary built by
//! `hack/envtest` against one kubeconfig, with a time limit, optional stdin, and the captured
//! exit status/stdout/stderr. Must not: use a `kubectl` from `PATH`, read the developer's
//! `~/.kube` (an explicit `--kubeconfig` and a private `--cache-dir` keep runs hermetic), or
//! block the async runtime (tests run mock servers on the same runtime).

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;

use crate::error::{Error, Result};

/// How long one kubectl invocation may run unless [`Kubectl::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_mins(1);

/// A kubectl bound to one kubeconfig (one control plane, one identity).
#[derive(Clone, Debug)]
pub struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    cache_dir: PathBuf,
    timeout: Duration,
}

/// What one kubectl run produced.
#[derive(Clone, Debug)]
pub struct KubectlOutput {
    /// The arguments after `kubectl` and its connection flags, for messages.
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Kubectl {
    /// A kubectl running `bin` with `--kubeconfig kubeconfig`; its discovery cache lives in
    /// `cache_dir` (one per control plane, so runs never see another cluster's cache).
    pub fn new(
        bin: impl Into<PathBuf>,
        kubeconfig: impl Into<PathBuf>,
        cache_dir: impl Into<PathBuf>,
    ) -> Self {
        Kubectl {
            bin: bin.into(),
            kubeconfig: kubeconfig.into(),
            cache_dir: cache_dir.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same kubectl with another time limit per invocation.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The kubeconfig this kubectl uses (for `KUBECONFIG=` of a process under test).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The kubectl binary.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Runs `kubectl <args>`. A non-zero exit is not an error here: tests assert on it. Errors are
    /// failing to start kubectl and exceeding the time limit (the process is then killed).
    pub async fn run<I, S>(&self, args: I) -> Result<KubectlOutput>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.execute(collect(args), None).await
    }

    /// Runs `kubectl <args>` with `stdin` as its standard input (e.g. `apply -f -`).
    pub async fn run_with_stdin<I, S>(&self, args: I, stdin: &str) -> Result<KubectlOutput>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.execute(collect(args), Some(stdin)).await
    }

    /// `kubectl apply -n <namespace> -f -` with `yaml` on stdin, as the tutorial does it.
    pub async fn apply_stdin(&self, namespace: &str, yaml: &str) -> Result<KubectlOutput> {
        self.run_with_stdin(["apply", "-n", namespace, "-f", "-"], yaml)
            .await
    }

    /// `kubectl apply -n <namespace> -f <path>` (a file or a directory).
    pub async fn apply_file(&self, namespace: &str, path: &Path) -> Result<KubectlOutput> {
        let args: Vec<OsString> = vec![
            "apply".into(),
            "-n".into(),
            namespace.into(),
            "-f".into(),
            path.into(),
        ];
        self.run(args).await
    }

    async fn execute(&self, args: Vec<OsString>, stdin: Option<&str>) -> Result<KubectlOutput> {
        let shown = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        let mut command = tokio::process::Command::new(&self.bin);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .args(&args)
            // A developer's KUBECONFIG must not leak into a plugin or sub-command lookup.
            .env_remove("KUBECONFIG")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| {
            Error::io(
                format!("starting {} {}", self.bin.display(), shown.join(" ")),
                e,
            )
        })?;
        let feed = child.stdin.take();
        let input = stdin.unwrap_or_default().to_owned();
        let write = async move {
            if let Some(mut pipe) = feed {
                // kubectl may exit before reading everything (bad flag); its exit status tells.
                let _ = pipe.write_all(input.as_bytes()).await;
            }
        };
        let wait = async { tokio::join!(write, child.wait_with_output()).1 };
        let output = match tokio::time::timeout(self.timeout, wait).await {
            Ok(output) => {
                output.map_err(|e| Error::io(format!("running kubectl {}", shown.join(" ")), e))?
            }
            Err(_) => {
                return Err(Error::KubectlTimeout {
                    args: shown.join(" "),
                    timeout: self.timeout,
                });
            }
        };
        Ok(KubectlOutput {
            args: shown,
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

fn collect<I, S>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    args.into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect()
}

impl KubectlOutput {
    /// Whether kubectl exited 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code (`None` when kubectl was killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// `Ok(self)` when kubectl exited 0, else an error carrying the arguments and stderr — for
    /// set-up steps that must work (`kubectl.apply_stdin(ns, yaml).await?.check()?`).
    pub fn check(self) -> Result<Self> {
        if self.success() {
            Ok(self)
        } else {
            Err(Error::KubectlFailed {
                args: self.args.join(" "),
                status: self.status,
                stderr: self.stderr,
            })
        }
    }
}

impl fmt::Display for KubectlOutput {
    /// The whole run, for assertion messages: `assert!(out.success(), "{out}")`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ kubectl {}  # {}", self.args.join(" "), self.status)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}", self.stderr.trim_end())
    }
}
