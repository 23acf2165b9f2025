//! The real `desk` in a real terminal: `desk demo` runs inside tmux (which starts `relay
//! demo`, the relay and the Meta simulator), and the test reads the screen and types like a
//! person: it opens the WhatsApp customer's thread, waits for the drafter's draft, approves
//! it with `a`, and reads the reply's status on screen until it is delivered. Then `q`
//! quits and the terminal, the desk and the relay all go away. Another run sends a WhatsApp
//! template through the picker (`t`), leaves a private note (`N`) and sends the demo's
//! canned reply (`/thanks` + Tab).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use anyhow::{Context, bail};
use harness::tls::{Leaf, TestCa};
use harness::{IG_A, World, desk_bin, eventually, ig_dm, now_ms, relay_bin};
use std::process::Command;
use std::time::Duration;

/// One tmux server of our own, so nothing else on the machine is touched.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .context("cannot run tmux (this test needs tmux installed)")?;
        if !out.status.success() {
            bail!(
                "tmux {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn screen(&self) -> anyhow::Result<String> {
        self.run(&["capture-pane", "-p", "-t", "desk"])
    }

    fn keys(&self, keys: &[&str]) -> anyhow::Result<()> {
        let mut args = vec!["send-keys", "-t", "desk"];
        args.extend_from_slice(keys);
        self.run(&args).map(|_| ())
    }

    /// Waits until the screen satisfies `check`.
    async fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> anyhow::Result<String> {
        eventually(what, Duration::from_secs(60), || async {
            let screen = self.screen()?;
            Ok(check(&screen).then_some(screen))
        })
        .await
        .with_context(|| format!("the screen was:\n{}", self.screen().unwrap_or_default()))
    }

    fn alive(&self) -> bool {
        self.run(&["has-session", "-t", "desk"]).is_ok()
    }

    /// Types `keys` again until `done` holds for the screen (`None` once the session is
    /// gone). Keys typed while the desk still asks the terminal about graphics at start,
    /// before its input reader runs, are lost; `keys` must be safe to repeat.
    async fn keys_until(
        &self,
        what: &str,
        keys: &[&str],
        done: impl Fn(Option<&str>) -> bool,
    ) -> anyhow::Result<()> {
        eventually(what, Duration::from_secs(60), || async {
            // The session may end between two tmux calls: a failed capture of a session
            // that is gone is the end, not an error.
            let screen = match self.screen() {
                Ok(screen) => Some(screen),
                Err(_) if !self.alive() => None,
                Err(e) => return Err(e),
            };
            if done(screen.as_deref()) {
                return Ok(Some(()));
            }
            if let Err(e) = self.keys(keys)
                && self.alive()
            {
                return Err(e);
            }
            Ok(None)
        })
        .await
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Starts `desk demo <args>` in a 120×40 tmux session of its own server (named after
/// `tag`), with a fresh HOME: no config file of the machine's user, no replicas from earlier
/// runs. Keep the returned directory alive while the session runs.
fn demo(tag: &str, args: &[&str]) -> anyhow::Result<(Tmux, tempfile::TempDir)> {
    let home = tempfile::tempdir()?;
    let command = format!(
        "env HOME={} NO_COLOR=1 CHATDESK_RELAY_BIN={} {} demo {}",
        home.path().display(),
        relay_bin()?.display(),
        desk_bin()?.display(),
        args.join(" ")
    );
    Ok((session(tag, &command)?, home))
}

/// Runs `command` in a 120×40 session named `desk` on a tmux server of its own.
fn session(tag: &str, command: &str) -> anyhow::Result<Tmux> {
    let tmux = Tmux {
        socket: format!("chatdesk-test-{tag}-{}", std::process::id()),
    };
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "desk",
        "-x",
        "120",
        "-y",
        "40",
        command,
    ])?;
    Ok(tmux)
}

#[tokio::test]
async fn a_person_approves_a_draft_in_the_real_desk_and_sees_it_delivered() -> anyhow::Result<()> {
    let (tmux, _home) = demo("owner", &[])?;

    let inbox = tmux
        .wait_for("drafts in the inbox", |s| {
            s.contains("Nusantara Desk · Sari Batik") && s.contains("Siti Aminah")
        })
        .await?;
    assert!(
        inbox.contains("new here?"),
        "the demo shows the first keys:\n{inbox}"
    );

    // Find the WhatsApp customer and open her thread.
    tmux.keys_until(
        "her thread",
        &["Escape", "/", "Siti", "Enter", "Enter"],
        |s| s.is_some_and(|s| s.contains("Siti Aminah · WhatsApp")),
    )
    .await?;
    let thread = tmux
        .wait_for("the WhatsApp thread with a draft that passed", |s| {
            s.contains("Siti Aminah · WhatsApp") && s.contains("◆ passed")
        })
        .await?;
    assert!(
        thread.contains("window"),
        "the context pane is beside it:\n{thread}"
    );

    tmux.keys(&["a"])?;
    let done = tmux
        .wait_for("the approved reply delivered", |s| {
            s.lines()
                .any(|l| l.contains("✓✓ delivered") || l.contains("👁 read"))
                && s.contains("you: ")
        })
        .await?;
    assert!(!done.contains("refused"), "{done}");

    // The owner's settings screen lists unused connect links and mints none on opening;
    // `L` asks for one, which starts Instagram Login.
    tmux.keys(&["Escape", "S"])?;
    tmux.wait_for("the settings without links", |s| s.contains("none unused"))
        .await?;
    tmux.keys(&["L"])?;
    let settings = tmux
        .wait_for("the settings with connect links", |s| {
            s.contains("Connect a new account") && s.contains("/oauth/instagram/start?link=")
        })
        .await?;
    let url = settings
        .split_whitespace()
        .find(|w| w.contains("/oauth/instagram/start?link="))
        .context("no link on screen")?
        .to_owned();
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .get(&url)
        .send()
        .await?;
    assert!(answer.status().is_redirection(), "{}", answer.status());
    let location = answer.headers()["location"].to_str()?.to_owned();
    assert!(
        location.contains("/oauth/authorize")
            && location.contains("instagram_business_manage_messages"),
        "{location}"
    );

    tmux.keys_until("the desk to exit", &["q"], |s| s.is_none())
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_person_sends_a_template_and_leaves_a_note_in_the_real_desk() -> anyhow::Result<()> {
    let (tmux, _home) = demo("template", &[])?;
    // The header and the first-keys hint: the desk is reading keys by then.
    tmux.wait_for("the WhatsApp customer in the inbox", |s| {
        s.contains("Nusantara Desk · Sari Batik")
            && s.contains("Siti Aminah")
            && s.contains("new here?")
    })
    .await?;
    tmux.keys_until(
        "her thread",
        &["Escape", "/", "Siti", "Enter", "Enter"],
        |s| s.is_some_and(|s| s.contains("Siti Aminah · WhatsApp")),
    )
    .await?;
    // `t`: the number's templates, asked of Meta (the simulator) through the relay.
    tmux.keys(&["t"])?;
    let list = tmux
        .wait_for("the template list", |s| s.contains("order_shipped · en_US"))
        .await?;
    assert!(
        list.contains("payment_reminder · id · utility · not approved"),
        "{list}"
    );
    tmux.keys(&["j", "Enter"])?;
    for (i, value) in ["Siti", "R-1042", "JNE", "JN0001"].iter().enumerate() {
        if i > 0 {
            tmux.keys(&["Tab"])?;
        }
        tmux.keys(&["-l", value])?;
    }
    tmux.wait_for("the preview", |s| {
        s.contains("Hi Siti, your order R-1042 has shipped with JNE. Tracking number: JN0001.")
    })
    .await?;
    tmux.keys(&["Enter"])?;
    let sent = tmux
        .wait_for("the template delivered", |s| {
            s.lines()
                .any(|l| l.contains("you: [template order_shipped]"))
                && (s.contains("✓✓ delivered") || s.contains("👁 read"))
        })
        .await?;
    assert!(!sent.contains("refused"), "{sent}");
    // `N`: a private note, saved with ctrl-s, shown apart and never sent.
    tmux.keys(&["N"])?;
    tmux.keys(&["-l", "promised delivery tomorrow"])?;
    tmux.keys(&["C-s"])?;
    let noted = tmux
        .wait_for("the note in the thread", |s| {
            s.contains("✎ note by you (not sent): promised delivery tomorrow")
                && !s.contains("⧗ note")
        })
        .await?;
    assert!(!noted.contains("refused"), "{noted}");
    // `r`, `/thanks` + Tab: the demo's canned reply, filled for Siti, sent with ctrl-s (and
    // confirmed if the safety check holds it).
    tmux.keys(&["r"])?;
    tmux.keys(&["-l", "/thanks"])?;
    // The list is fetched when the composer opens; a Tab before it arrives says so and
    // leaves `/thanks` to try again.
    tmux.keys_until("the canned reply in the composer", &["Tab"], |s| {
        s.is_some_and(|s| s.contains("Terima kasih Siti Aminah"))
    })
    .await?;
    tmux.keys(&["C-s"])?;
    let after = tmux
        .wait_for("the canned reply sent or held", |s| {
            s.contains("Send anyway?") || s.contains("you: Terima kasih Siti Aminah")
        })
        .await?;
    if after.contains("Send anyway?") {
        tmux.keys(&["y"])?;
    }
    let sent = tmux
        .wait_for("the canned reply delivered", |s| {
            s.lines()
                .any(|l| l.contains("you: Terima kasih Siti Aminah"))
                && s.lines()
                    .filter(|l| l.contains("✓✓ delivered") || l.contains("👁 read"))
                    .count()
                    >= 2
        })
        .await?;
    assert!(!sent.contains("{{"), "{sent}");
    tmux.keys(&["q"])?;
    Ok(())
}

#[tokio::test]
async fn the_partner_viewer_sees_the_report_with_charts_and_no_conversations() -> anyhow::Result<()>
{
    let (tmux, _home) = demo("partner", &["--as", "partner"])?;
    let report = tmux
        .wait_for("the partner report", |s| {
            s.contains("Report · 1 businesses") && s.contains("Sari Batik")
        })
        .await?;
    assert!(
        report.contains("messages per day") && report.contains("replies by origin"),
        "{report}"
    );
    assert!(
        report.contains("Nusantara Desk"),
        "the partner's brand heads it:\n{report}"
    );
    // A viewer has no conversations: the inbox keys say so instead of showing any.
    tmux.keys(&["Escape", "n"])?;
    let after = tmux.screen()?;
    assert!(!after.contains("Siti Aminah"), "{after}");
    tmux.keys_until("the desk to exit", &["q"], |s| s.is_none())
        .await?;
    Ok(())
}

/// `desk --relay https://… --token-file … [--ca-file …]` in tmux, with its own HOME and
/// data directory (where `desk.log` goes).
fn desk_against(
    tag: &str,
    relay: &str,
    token: &str,
    ca_file: &std::path::Path,
) -> anyhow::Result<(Tmux, tempfile::TempDir)> {
    let home = tempfile::tempdir()?;
    let token_file = home.path().join("agent.token");
    std::fs::write(&token_file, token)?;
    let command = format!(
        "env HOME={home} NO_COLOR=1 DESK_DATA_DIR={home}/data {desk} --relay {relay} \
         --token-file {token} --ca-file {ca}",
        home = home.path().display(),
        desk = desk_bin()?.display(),
        token = token_file.display(),
        ca = ca_file.display(),
    );
    Ok((session(tag, &command)?, home))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_desk_syncs_from_a_tls_relay_and_names_a_refused_certificate() -> anyhow::Result<()>
{
    let pki = tempfile::tempdir()?;
    let ca = TestCa::new("chatdesk test CA")?;
    let ca_file = ca.write_pem(&pki.path().join("ca.pem"))?;
    let other_file = TestCa::new("someone else's CA")?.write_pem(&pki.path().join("other.pem"))?;
    let pair = ca.issue(pki.path(), "relay", Leaf::Valid)?;
    let w = World::with_tls(pair.env(), Some(ca.pem())).await?;
    let url = w.api.url.clone();
    let body = ig_dm(IG_A, "m_tmux_tls", "4242", "apakah ready kak", now_ms());
    assert_eq!(w.api.webhook("instagram", &body).await?, 200);

    // Trusting the private CA: connected over wss://, the thread on screen.
    let (tmux, _home) = desk_against("tls-ok", &url, &w.a.agent_token, &ca_file)?;
    let screen = tmux
        .wait_for("the thread over TLS", |s| {
            s.contains("● connected") && s.contains("apakah ready kak")
        })
        .await?;
    assert!(!screen.contains("not encrypted"), "{screen}");
    tmux.keys_until("the desk to exit", &["q"], |s| s.is_none())
        .await?;
    drop(tmux);

    // Trusting another CA: one line on the status bar and in desk.log, no crash.
    let (tmux, home) = desk_against("tls-bad", &url, &w.a.agent_token, &other_file)?;
    let screen = tmux
        .wait_for("the certificate problem on the status bar", |s| {
            s.contains("unknown issuer")
        })
        .await?;
    let line = screen
        .lines()
        .find(|l| l.contains("unknown issuer"))
        .context("no line")?;
    assert!(line.contains("TLS certificate of"), "{screen}");
    assert!(screen.contains("reconnecting in"), "{screen}");
    let log = home.path().join("data").join("desk.log");
    let logged = eventually(
        "the problem in desk.log",
        Duration::from_secs(20),
        || async {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            Ok(text
                .lines()
                .find(|l| l.contains("relay certificate refused"))
                .map(str::to_owned))
        },
    )
    .await?;
    assert!(
        logged.contains("unknown issuer") && logged.contains(&url),
        "{logged}"
    );
    assert!(tmux.alive(), "the desk keeps running");
    tmux.keys_until("the desk to exit", &["q"], |s| s.is_none())
        .await?;
    Ok(())
}
