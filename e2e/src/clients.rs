//! The clients and the upstream of the data path: the mock Anthropic API
//! (`e2e/python/mock_anthropic.py`, the one imitation, run as its own process) and the real
//! Claude Code CLI installed by `hack/install-test-clients.sh` (`AGW_CLAUDE_BIN`).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::agw::get;
use crate::binaries::workspace_root;
use crate::envtest::ports::free_ports;
use crate::envtest::process::Supervised;
use crate::error::{Error, Result};

/// How long one `claude -p` may take.
const CLAUDE_TIMEOUT: Duration = Duration::from_mins(2);

/// The mock Anthropic API as a process, killed when dropped.
#[derive(Debug)]
pub struct MockUpstream {
    _processes: Vec<Supervised>,
    port: u16,
    /// Where the test reads the mock's request log (`/_mock/requests`).
    control: SocketAddr,
    _dir: TempDir,
}

impl MockUpstream {
    /// Starts the mock on a free loopback port and waits until it answers.
    pub async fn start() -> Result<Self> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temp dir", e))?;
        let [port] = free_ports()?;
        let (python, script) = mock_command();
        let args = vec![script, format!("--port={port}")];
        let process = Supervised::spawn(
            "mock-anthropic",
            python.as_ref(),
            &args,
            dir.path().join("mock.log"),
        )?;
        let control = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        Self::ready(vec![process], port, control, dir).await
    }

    /// Starts the mock inside the network namespace `netns` (a test cluster's), listening on
    /// every address there, so pods reach it at the node's address. The root namespace reads
    /// its request log through a loopback forwarder that enters `netns` per connection.
    pub async fn start_in_netns(netns: &str) -> Result<Self> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temp dir", e))?;
        // A port free here is almost surely free in the namespace, which runs only the node.
        let [port, control_port] = free_ports()?;
        let (python, script) = mock_command();
        let enter = format!("--net=/run/netns/{netns}");
        let args = vec![
            enter.clone(),
            python,
            script,
            "--host=0.0.0.0".to_owned(),
            format!("--port={port}"),
        ];
        let mock = Supervised::spawn(
            "mock-anthropic",
            "nsenter".as_ref(),
            &args,
            dir.path().join("mock.log"),
        )?;
        let forward = vec![
            format!("TCP-LISTEN:{control_port},bind=127.0.0.1,reuseaddr,fork"),
            format!("EXEC:nsenter {enter} socat STDIO TCP\\:127.0.0.1\\:{port}"),
        ];
        let forwarder = Supervised::spawn(
            "mock-forwarder",
            "socat".as_ref(),
            &forward,
            dir.path().join("forward.log"),
        )?;
        let control = SocketAddr::from((Ipv4Addr::LOCALHOST, control_port));
        Self::ready(vec![mock, forwarder], port, control, dir).await
    }

    async fn ready(
        mut processes: Vec<Supervised>,
        port: u16,
        control: SocketAddr,
        dir: TempDir,
    ) -> Result<Self> {
        let started = Instant::now();
        while get(control, "/_mock/requests").await.is_err() {
            for process in &mut processes {
                process.ensure_running()?;
            }
            if started.elapsed() > Duration::from_secs(15) {
                return Err(Error::Timeout {
                    what: "the mock Anthropic API to answer".to_owned(),
                    waited: Duration::from_secs(15),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            _processes: processes,
            port,
            control,
            _dir: dir,
        })
    }

    /// The port, for a Backend's `spec.ai.provider.port`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request the mock received: `(method, path, headers)` as JSON.
    pub async fn requests(&self) -> Result<Vec<serde_json::Value>> {
        let (_, body) = get(self.control, "/_mock/requests").await?;
        let parsed: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| Error::UnexpectedResponse {
                what: "the mock's request log".to_owned(),
                message: e.to_string(),
            })?;
        Ok(parsed["requests"].as_array().cloned().unwrap_or_default())
    }
}

/// The interpreter (`AGW_PYTHON`, else `python3`) and the mock's script.
fn mock_command() -> (String, String) {
    let script = workspace_root().join("e2e/python/mock_anthropic.py");
    let python = std::env::var("AGW_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    (python, script.display().to_string())
}

/// The Claude Code CLI.
#[derive(Debug)]
pub struct Claude {
    bin: PathBuf,
    home: TempDir,
}

/// What `claude -p` did.
#[derive(Debug)]
pub struct ClaudeOutput {
    /// Exit code.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Claude {
    /// The CLI from `AGW_CLAUDE_BIN`, with a throwaway `HOME`.
    pub fn new() -> Result<Self> {
        let bin = std::env::var_os("AGW_CLAUDE_BIN")
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .ok_or_else(|| Error::Missing {
                what: "the Claude Code CLI".to_owned(),
                path: PathBuf::from("$AGW_CLAUDE_BIN"),
                hint: "run hack/install-test-clients.sh and export the AGW_CLAUDE_BIN it prints (hack/test.sh does)".to_owned(),
            })?;
        let home = tempfile::tempdir().map_err(|e| Error::io("creating a HOME for claude", e))?;
        Ok(Self { bin, home })
    }

    /// The tutorial's check through `base_url`: `What is Kubernetes?` exits 0 with the mock's
    /// answer, and `What is a credit card` exits non-zero printing `rejection`.
    pub async fn tutorial_prompts(&self, base_url: &str, rejection: &str) -> Result<()> {
        let unexpected = |what: &str, out: &ClaudeOutput| Error::UnexpectedResponse {
            what: format!("claude -p {what:?} through {base_url}"),
            message: format!("{out:?}"),
        };
        let answer = self.prompt(base_url, "What is Kubernetes?").await?;
        if answer.code != Some(0) || !answer.stdout.contains("open-source system") {
            return Err(unexpected("What is Kubernetes?", &answer));
        }
        let rejected = self.prompt(base_url, "What is a credit card").await?;
        let printed = format!("{}{}", rejected.stdout, rejected.stderr);
        if rejected.code == Some(0) || !printed.contains(rejection) {
            return Err(unexpected("What is a credit card", &rejected));
        }
        Ok(())
    }

    /// `ANTHROPIC_BASE_URL=<base_url> claude -p <prompt>`, as the tutorial runs it.
    pub async fn prompt(&self, base_url: &str, prompt: &str) -> Result<ClaudeOutput> {
        self.prompt_with_key(base_url, prompt, "sk-ant-client-dummy")
            .await
    }

    /// [`Self::prompt`] with `ANTHROPIC_API_KEY=<api_key>` (sent as `x-api-key`): a developer
    /// calling with their gateway key.
    pub async fn prompt_with_key(
        &self,
        base_url: &str,
        prompt: &str,
        api_key: &str,
    ) -> Result<ClaudeOutput> {
        let mut command = tokio::process::Command::new(&self.bin);
        command
            .args(["-p", prompt])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("ANTHROPIC_BASE_URL", base_url)
            .env("ANTHROPIC_API_KEY", api_key)
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("CI", "1")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(CLAUDE_TIMEOUT, command.output())
            .await
            .map_err(|_| Error::Timeout {
                what: format!("claude -p {prompt:?}"),
                waited: CLAUDE_TIMEOUT,
            })?
            .map_err(|e| Error::io("running claude", e))?;
        Ok(ClaudeOutput {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}
