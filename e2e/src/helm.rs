//! The real `helm` CLI, as a platform team runs it. Owns: running the helm binary built by
//! `hack/helm/build.sh` (found by [`crate::binaries::helm_binary`]) with an optional
//! kubeconfig, private Helm home directories and a time limit, and capturing the exit status,
//! stdout and stderr. Must not: use a `helm` from `PATH`, read the developer's Helm
//! configuration (repositories, plugins, registry logins, `HELM_*` variables) or `~/.kube`, or
//! block the async runtime.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::binaries::{helm_binary, workspace_root};
use crate::error::{Error, Result};

/// How long one helm invocation may run unless [`Helm::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_mins(2);

/// A helm bound to private home directories and, for commands that talk to a cluster, one
/// kubeconfig.
#[derive(Clone, Debug)]
pub struct Helm {
    bin: PathBuf,
    home: PathBuf,
    kubeconfig: Option<PathBuf>,
    timeout: Duration,
}

/// What one helm run produced.
#[derive(Clone, Debug)]
pub struct HelmOutput {
    /// The arguments after `helm` and its connection flags, for messages.
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Helm {
    /// A helm running `bin`, keeping its cache, configuration and data under `home` (a directory
    /// the caller owns, e.g. a tempdir), with no cluster: for `lint`, `template`, `package`.
    pub fn new(bin: impl Into<PathBuf>, home: impl Into<PathBuf>) -> Self {
        Helm {
            bin: bin.into(),
            home: home.into(),
            kubeconfig: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The helm of `hack/helm/build.sh` ([`crate::binaries::helm_binary`]) with home
    /// directories in a new tempdir, which the caller keeps for as long as it uses the helm.
    pub fn with_private_home() -> Result<(Helm, TempDir)> {
        let bin = helm_binary()?;
        let home = tempfile::Builder::new()
            .prefix("agw-helm-")
            .tempdir()
            .map_err(|e| Error::io("creating helm's home directory", e))?;
        Ok((Helm::new(bin, home.path()), home))
    }

    /// The same helm talking to the cluster of `kubeconfig`.
    #[must_use]
    pub fn with_kubeconfig(mut self, kubeconfig: impl Into<PathBuf>) -> Self {
        self.kubeconfig = Some(kubeconfig.into());
        self
    }

    /// The same helm with another time limit per invocation.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The helm binary.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Runs `helm <args>`. A non-zero exit is not an error here: tests assert on it. Errors are
    /// failing to start helm and exceeding the time limit (the process is then killed).
    pub async fn run<I, S>(&self, args: I) -> Result<HelmOutput>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().into()).collect();
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut command = self.command();
        command.args(&args);
        let child = command
            .spawn()
            .map_err(|e| Error::io(format!("starting helm {}", shown.join(" ")), e))?;
        let output = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(output) => {
                output.map_err(|e| Error::io(format!("running helm {}", shown.join(" ")), e))?
            }
            Err(_) => {
                return Err(Error::HelmTimeout {
                    args: shown.join(" "),
                    timeout: self.timeout,
                });
            }
        };
        Ok(HelmOutput {
            args: shown,
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.bin);
        if let Some(kubeconfig) = &self.kubeconfig {
            command.arg("--kubeconfig").arg(kubeconfig);
        }
        // A developer's HELM_NAMESPACE, HELM_DRIVER or HELM_KUBECONTEXT would change what a
        // test installs where; none of them may leak in.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("HELM_") {
                command.env_remove(name);
            }
        }
        command
            .env_remove("KUBECONFIG")
            .env("HELM_CACHE_HOME", self.home.join("cache"))
            .env("HELM_CONFIG_HOME", self.home.join("config"))
            .env("HELM_DATA_HOME", self.home.join("data"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }
}

/// The path of a chart of this repository (`charts/<name>`), as helm takes it.
pub fn chart(name: &str) -> String {
    workspace_root()
        .join("charts")
        .join(name)
        .display()
        .to_string()
}

impl HelmOutput {
    /// Whether helm exited 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// `Ok(self)` when helm exited 0, else an error carrying the arguments and stderr.
    pub fn check(self) -> Result<Self> {
        if self.success() {
            Ok(self)
        } else {
            Err(Error::HelmFailed {
                args: self.args.join(" "),
                status: self.status,
                stderr: self.stderr,
            })
        }
    }
}

impl fmt::Display for HelmOutput {
    /// The whole run, for assertion messages: `assert!(out.success(), "{out}")`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ helm {}  # {}", self.args.join(" "), self.status)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}", self.stderr.trim_end())
    }
}
