//! `relay demo` end to end, as `desk demo` uses it: the real binary starts, prints one JSON
//! line naming the relay and the token files, a desk connects with the owner token, the
//! scenario's first WhatsApp question gets a drafter draft, the owner approves it, the send
//! goes `Sent` and the simulator's `delivered` status comes back; SIGTERM stops everything
//! cleanly and the temporary directory is gone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use anyhow::{Context as _, bail};
use harness::desk::RawDesk;
use harness::relay_bin;
use protocol::inbound::{InboundKind, StatusKind};
use protocol::{
    Answer, Channel, Command, DeskAction, DraftAuthor, Event, EventBody, Role, SendStatus, ThreadId,
};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command as Process;

/// The whole path from the first frame to the delivered status must fit in this.
const WITHIN: Duration = Duration::from_secs(60);

/// What the test has seen of the tenant's log so far.
#[derive(Default)]
struct Seen {
    /// Each thread's surface, from its customer's messages.
    channels: HashMap<ThreadId, Channel>,
    /// The first drafter draft on any thread, and when it arrived.
    first_draft: Option<Instant>,
    /// The first drafter draft on a WhatsApp thread: (thread, version).
    whatsapp_draft: Option<(ThreadId, u32)>,
    /// Meta's id of our approved reply, once `Sent`.
    sent: Option<String>,
    delivered: bool,
}

impl Seen {
    fn observe(&mut self, event: &Event, approved: Option<&ThreadId>) {
        match &event.body {
            EventBody::Inbound(inbound) => {
                self.channels
                    .entry(inbound.thread.clone())
                    .or_insert(inbound.channel);
                if let (InboundKind::Status(status), Some(sent)) = (&inbound.kind, &self.sent)
                    && status.message_id == *sent
                    && status.status == StatusKind::Delivered
                {
                    self.delivered = true;
                }
            }
            EventBody::Desk(desk) => {
                if let DeskAction::DraftEdited { draft } = &desk.action
                    && draft.author == DraftAuthor::Drafter
                {
                    self.first_draft.get_or_insert_with(Instant::now);
                    if self.whatsapp_draft.is_none()
                        && self.channels.get(&desk.thread) == Some(&Channel::WhatsApp)
                    {
                        self.whatsapp_draft = Some((desk.thread.clone(), draft.version));
                    }
                }
            }
            EventBody::Outbox(out) if Some(&out.thread) == approved => {
                if let SendStatus::Sent { provider_id, .. } = &out.status {
                    self.sent = Some(provider_id.clone());
                }
                if let SendStatus::Failed { failure, .. } = &out.status {
                    // Fail loudly with Meta's sentence rather than time out.
                    self.sent = Some(format!("failed: {}", failure.message));
                }
            }
            _ => {}
        }
    }
}

/// Reads frames until `done` holds, folding events into `seen`.
async fn until(
    desk: &mut RawDesk,
    seen: &mut Seen,
    approved: Option<&ThreadId>,
    deadline: Instant,
    what: &str,
    done: impl Fn(&Seen) -> bool,
) -> anyhow::Result<()> {
    while !done(seen) {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        if let protocol::ServerFrame::Event { event } = desk.next().await? {
            seen.observe(&event, approved);
        }
    }
    Ok(())
}

fn text_of(path: &Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .trim()
        .to_owned())
}

#[cfg(unix)]
fn mode(path: &Path) -> anyhow::Result<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

#[tokio::test]
async fn relay_demo_provisions_a_tenant_whose_first_draft_is_approved_and_delivered() {
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("demo.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let start = Instant::now();
    let mut child = Process::new(relay_bin().unwrap())
        .arg("demo")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut line))
        .await
        .context("no line from relay demo within 30 s")
        .unwrap()
        .unwrap();
    let ready = start.elapsed();
    let info: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        panic!("not a JSON line: {line:?} ({e}); log:\n{log}")
    });
    let mut keys: Vec<&str> = info
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "agent_token_file",
            "data_dir",
            "owner_token_file",
            "partner",
            "relay_url",
            "simulator_url",
            "tenant",
            "viewer_token_file"
        ]
    );
    let field = |k: &str| info[k].as_str().unwrap().to_owned();
    let data_dir = PathBuf::from(field("data_dir"));
    assert!(data_dir.is_dir(), "{}", data_dir.display());
    let mut tokens = Vec::new();
    for key in ["owner_token_file", "agent_token_file", "viewer_token_file"] {
        let path = PathBuf::from(field(key));
        assert!(path.starts_with(&data_dir), "{key} outside the data dir");
        #[cfg(unix)]
        assert_eq!(mode(&path).unwrap(), 0o600, "{key}");
        let token = text_of(&path).unwrap();
        assert!(token.len() >= 16, "{key} holds a token");
        assert!(!line.contains(&token), "the stdout line holds a token");
        tokens.push(token);
    }
    let owner = tokens[0].clone();

    let mut desk = RawDesk::connect(&field("relay_url"), &owner, None)
        .await
        .unwrap();
    let welcome = desk.hello(0).await.unwrap();
    assert_eq!(welcome.tenant.as_str(), field("tenant"));
    assert_eq!(welcome.role, Role::Owner);
    assert_eq!(welcome.credits, 500);

    let deadline = Instant::now() + WITHIN;
    let mut seen = Seen::default();
    until(
        &mut desk,
        &mut seen,
        None,
        deadline,
        "a drafter draft on a WhatsApp thread",
        |s| s.whatsapp_draft.is_some(),
    )
    .await
    .unwrap();
    let first_draft = seen.first_draft.unwrap().duration_since(start);
    let (thread, version) = seen.whatsapp_draft.clone().unwrap();
    let (answer, events) = desk
        .command(
            "demo-approve-1",
            Command::ApproveDraft {
                thread: thread.clone(),
                version,
            },
        )
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Applied { .. }), "{answer:?}");
    for e in &events {
        seen.observe(e, Some(&thread));
    }
    until(
        &mut desk,
        &mut seen,
        Some(&thread),
        deadline,
        "the approved reply to be sent",
        |s| s.sent.is_some(),
    )
    .await
    .unwrap();
    let sent = seen.sent.clone().unwrap();
    assert!(!sent.starts_with("failed"), "{sent}");
    until(
        &mut desk,
        &mut seen,
        Some(&thread),
        deadline,
        "the delivered status of the reply",
        |s| s.delivered,
    )
    .await
    .unwrap();
    let delivered = start.elapsed();
    eprintln!(
        "relay demo: line after {ready:?}, first draft after {first_draft:?}, \
         delivered after {delivered:?}"
    );

    // SIGTERM: a clean stop, exit 0, the temporary directory gone, nothing more on stdout.
    let pid = child.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .context("relay demo did not stop within 30 s of SIGTERM")
        .unwrap()
        .unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(exit.success(), "relay demo exited with {exit}; log:\n{log}");
    assert!(!data_dir.exists(), "the temporary directory is still there");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "", "stdout holds only the one line");
    for token in &tokens {
        assert!(!log.contains(token.as_str()), "a token leaked into the log");
    }
}
